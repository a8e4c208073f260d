#!/usr/bin/env python3
"""Writes tiny PyTorch pickle checkpoints (torch.save) for the tests of the "this is not
safetensors, convert it with ..." errors (tests/io/pickle_checkpoint_test.cpp):

    .venv/bin/python tools/reference/make_pickle_checkpoints.py tests/data/pickle

  cosmos_dit.pt          {"model": {"net.x_embedder.proj.1.weight": ...}}, a Cosmos DiT `.pt`
  wan_vae.pth            {"encoder.conv1.weight": ..., "decoder.upsamples.0...": ...}
  transformers/pytorch_model.bin   a directory holding only a transformers `.bin` save
  legacy.pt              the pre-1.6 (non-zip) torch.save format of a Cosmos DiT dict
  unknown.ckpt           a zip torch.save of names none of the models use
Each tensor is 2x2, so every file is ~1 KB.
"""
import pathlib
import sys

import torch


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    (out / "transformers").mkdir(parents=True, exist_ok=True)
    t = torch.arange(4.0).reshape(2, 2)
    dit = {"model": {"net.x_embedder.proj.1.weight": t, "net.t_embedding_norm.weight": t[0]}}
    torch.save(dit, out / "cosmos_dit.pt")
    torch.save({"encoder.conv1.weight": t, "decoder.upsamples.0.residual.0.gamma": t},
               out / "wan_vae.pth")
    torch.save({"model.embed_tokens.weight": t, "lm_head.weight": t},
               out / "transformers" / "pytorch_model.bin")
    torch.save(dit, out / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"state": {"weights": t}}, out / "unknown.ckpt")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
