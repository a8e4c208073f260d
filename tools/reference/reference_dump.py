"""The duogen reference-dump format, shared by every dumper in tools/reference/.

A dump is one safetensors file:
  input.<name>     tensors fed to the component
  expected.<name>  what the reference implementation produced from them
  __metadata__     format="duogen-reference-v1", component=<registered name>, producer (library
                   versions), dtype (the compute dtype), rtol (the suggested tolerance and why).
`duogen verify --model DIR --reference DUMP` runs the component on the inputs and compares.
"""
from __future__ import annotations

import pathlib

import safetensors.torch
import torch

FORMAT = "duogen-reference-v1"


def write_dump(path: pathlib.Path, component: str, inputs: dict[str, torch.Tensor],
               expected: dict[str, torch.Tensor], *, dtype: str, rtol: float, rtol_reason: str,
               producer: str, extra_metadata: dict[str, str] | None = None) -> None:
    tensors = {f"input.{k}": v.detach().contiguous().cpu() for k, v in inputs.items()}
    tensors.update({f"expected.{k}": v.detach().contiguous().cpu() for k, v in expected.items()})
    metadata = {
        "format": FORMAT,
        "component": component,
        "dtype": dtype,
        "rtol": repr(rtol),
        "rtol_reason": rtol_reason,
        "producer": producer,
    }
    metadata.update(extra_metadata or {})  # component settings that are not tensors
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)
    print(f"wrote {path} ({component}, {dtype})")
