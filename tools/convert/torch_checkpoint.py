"""Shared by the converters in tools/convert/: reading a PyTorch pickle checkpoint without running
its code, and writing a converted checkpoint directory.

torch.load(weights_only=True) refuses every global outside torch's allow-list. Transformer Engine
modules (the Cosmos DiT's attention and MLP layers) save their `_extra_state` as pickled
`io.BytesIO` objects, which weights_only rejects ("Unsupported global: GLOBAL _io.BytesIO");
BytesIO is therefore allowed through torch.serialization.safe_globals: rebuilding one only stores
bytes, and the converters drop those entries anyway. Anything else still fails, with the class
named; `--trust-pickle` (weights_only=False, which can run arbitrary code) is the explicit way out
for a file from a trusted source.
"""
from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import sys

import safetensors.torch
import torch

# Globals a checkpoint may hold besides tensors and containers; each rebuilds plain data only.
SAFE_GLOBALS = [io.BytesIO]


def load_checkpoint(path: pathlib.Path, trust_pickle: bool = False):
    """The object torch.save wrote to `path`, on the CPU. Zip archives are memory-mapped, so a
    multi-GB checkpoint is not read into memory before it is converted."""
    mmap = _is_zip(path)
    if trust_pickle:
        return torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = next((line for line in lines if "GLOBAL" in line), lines[-1] if lines else "")
        sys.exit(f"error: {path}: torch.load(weights_only=True) refuses an object in this file "
                 f"({detail}). Nothing in it was run. If you trust where the file comes from, "
                 f"rerun with --trust-pickle (weights_only=False: the pickle may run code).")


def _is_zip(path: pathlib.Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _readable_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _replace(tmp: pathlib.Path, final: pathlib.Path) -> None:
    # tempfile-style 0600 is what safetensors writes; make the result readable like any file.
    tmp.chmod(_readable_mode())
    tmp.replace(final)


def write_checkpoint(out: pathlib.Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str],
                     config: dict) -> None:
    """OUT/model.safetensors and OUT/config.json, each written beside its target and renamed into
    place, with the usual file mode (0644 under the common umask 022)."""
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "model.safetensors"
    tmp = out / ".model.safetensors.partial"
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
                                metadata=metadata)
    _replace(tmp, weights)
    tmp = out / ".config.json.partial"
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    _replace(tmp, out / "config.json")


def check_diffusers_config(cls_name: str, config: dict) -> None:
    """Asserts every key of `config` is one diffusers' `cls_name` accepts (config.json keeps
    duogen-only keys out, so diffusers' from_config reads it unchanged). Skipped without
    diffusers."""
    try:
        import diffusers
    except ImportError:
        return
    cls = getattr(diffusers, cls_name)
    _, unused, _ = cls.extract_init_dict(dict(config))
    unused = {k for k in unused if not k.startswith("_")}
    if unused:
        sys.exit(f"error: internal: {cls_name} does not accept config keys {sorted(unused)}")
