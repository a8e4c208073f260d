#!/usr/bin/env python3
"""Dumps Wan2.1 VAE reference cases (diffusers AutoencoderKLWan) for `duogen verify`:

    .venv/bin/python tools/reference/dump_wan_vae.py --model tests/data/tiny-wan_vae --out-dir DIR

The checkpoint (original Wan layout) is turned into diffusers names by diffusers' own
`convert_wan_vae_to_diffusers` and loaded strictly. Cases (fp32, CPU):
  wan_vae.encode.image        image [1, 3, 1, 40, 48] -> mu, latent
  wan_vae.encode.video        5 frames [1, 3, 5, 32, 40] -> 2 latent frames
  wan_vae.decode.image        latent [1, 16, 1, 5, 6] -> decoded [1, 3, 1, 40, 48]
  wan_vae.decode.video        latent [1, 16, 2, 4, 5] -> decoded [1, 3, 5, 32, 40]
  wan_vae.encode.image_tiled  [1, 3, 1, 64, 80], enable_tiling(32, 32, 24, 24)
  wan_vae.decode.image_tiled  latent [1, 16, 1, 8, 10], the same tiling
  wan_vae.encode.video_tiled  [1, 3, 5, 48, 56], the same tiling
  wan_vae.decode.video_tiled  latent [1, 16, 2, 6, 7], the same tiling
  wan_vae.encode.image_bf16   the image case with the model and input in bfloat16
  wan_vae.decode.image_bf16   the image decode case in bfloat16
  wan_vae.decode.video_bf16   the video decode case in bfloat16
Latents are normalised as the Wan pipelines do: (mu - latents_mean) * (1 / latents_std).
"""
import argparse
import json
import pathlib

import diffusers
import safetensors.torch
import torch
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

from reference_dump import write_dump

# fp32 on CPU: duogen and torch run the same ATen kernels, but duogen's single-image path is a
# Conv2d where diffusers runs a Conv3d over two zero frames, and the attention/norm reductions
# may be ordered differently; over ~40 stacked convs that leaves ~1e-6 relative.
RTOL = 1e-5
RTOL_REASON = "fp32 CPU: reduction order of conv3d vs its 2D reduction, ~40 layers deep"
TILING = [32, 32, 24, 24]  # tile min height, min width, stride height, stride width (pixels)


def load(model_dir: pathlib.Path) -> AutoencoderKLWan:
    config = json.loads((model_dir / "config.json").read_text())
    config.pop("_class_name")
    model = AutoencoderKLWan(**config).eval()
    original = safetensors.torch.load_file(str(model_dir / "model.safetensors"))
    state = {k: v.float() for k, v in convert_wan_vae_to_diffusers(original).items()}
    model.load_state_dict(state, strict=True)
    return model


def stats(model: AutoencoderKLWan):
    mean = torch.tensor(model.config.latents_mean).view(1, -1, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(model.config.latents_std).view(1, -1, 1, 1, 1)
    return mean, inv_std


def dump(out_dir: pathlib.Path, name: str, component: str, inputs: dict, expected: dict) -> None:
    write_dump(out_dir / f"{name}.safetensors", component, inputs, expected, dtype="float32",
               rtol=RTOL, rtol_reason=RTOL_REASON,
               producer=f"diffusers {diffusers.__version__}, torch {torch.__version__}")


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item()


def dump_bf16(out_dir: pathlib.Path, model: AutoencoderKLWan, name: str, component: str,
              run, inputs: dict) -> None:
    """A bf16 case whose tolerance is measured, not guessed: twice the distance between diffusers'
    own bf16 and fp32 results (flash-attention's test rule), so duogen in bf16 may differ from
    diffusers in bf16 by no more than bf16 itself moves the reference."""
    with torch.no_grad():
        exact = run(model.float(), {k: v.float() for k, v in inputs.items()})
        model.to(torch.bfloat16)
        low = run(model, {k: v.to(torch.bfloat16) for k, v in inputs.items()})
        model.float()
    noise = max(rel_error(low[k], exact[k]) for k in exact)
    rtol = 2 * noise
    write_dump(out_dir / f"{name}.safetensors", component, inputs,
               {k: v.float() for k, v in low.items()}, dtype="bfloat16", rtol=rtol,
               rtol_reason=f"2x diffusers' own bf16-vs-fp32 relative error ({noise:.3g})",
               producer=f"diffusers {diffusers.__version__}, torch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--out-dir", type=pathlib.Path, required=True)
    args = parser.parse_args()
    model = load(args.model)
    mean, inv_std = stats(model)
    g = torch.Generator().manual_seed(0)
    encode_cases = {"image": (1, 40, 48), "video": (5, 32, 40),
                    "image_tiled": (1, 64, 80), "video_tiled": (5, 48, 56)}
    for case, (t, h, w) in encode_cases.items():
        image = torch.rand(1, 3, t, h, w, generator=g) * 2 - 1
        inputs = {"image": image}
        if case.endswith("tiled"):
            model.enable_tiling(*TILING)
            inputs["tiling"] = torch.tensor(TILING, dtype=torch.int64)
        with torch.no_grad():
            mu = model.encode(image).latent_dist.mode()
        model.use_tiling = False
        dump(args.out_dir, f"wan_vae.encode.{case}", "wan_vae.encode", inputs,
             {"mu": mu, "latent": (mu - mean) * inv_std})

    decode_cases = {"image": (1, 5, 6), "video": (2, 4, 5), "image_tiled": (1, 8, 10),
                    "video_tiled": (2, 6, 7)}
    for case, (t, h, w) in decode_cases.items():
        latent = torch.randn(1, 16, t, h, w, generator=g)
        inputs = {"latent": latent}
        if case.endswith("tiled"):
            model.enable_tiling(*TILING)
            inputs["tiling"] = torch.tensor(TILING, dtype=torch.int64)
        with torch.no_grad():
            decoded = model.decode(latent / inv_std + mean).sample
        model.use_tiling = False
        dump(args.out_dir, f"wan_vae.decode.{case}", "wan_vae.decode", inputs, {"decoded": decoded})

    # bf16 cases: fresh draws from their own generator, so the fp32 goldens above do not change.
    g = torch.Generator().manual_seed(1)

    def encode(m, x):
        mu = m.encode(x["image"]).latent_dist.mode()
        return {"mu": mu, "latent": (mu.float() - mean) * inv_std}

    def decode(m, x):
        dtype = next(m.parameters()).dtype
        return {"decoded": m.decode((x["latent"].float() / inv_std + mean).to(dtype)).sample}

    dump_bf16(args.out_dir, model, "wan_vae.encode.image_bf16", "wan_vae.encode", encode,
              {"image": torch.rand(1, 3, 1, 40, 48, generator=g) * 2 - 1})
    dump_bf16(args.out_dir, model, "wan_vae.decode.image_bf16", "wan_vae.decode", decode,
              {"latent": torch.randn(1, 16, 1, 5, 6, generator=g)})
    dump_bf16(args.out_dir, model, "wan_vae.decode.video_bf16", "wan_vae.decode", decode,
              {"latent": torch.randn(1, 16, 2, 4, 5, generator=g)})


if __name__ == "__main__":
    main()
