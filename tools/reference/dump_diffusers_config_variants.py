#!/usr/bin/env python3
"""Goldens for config keys duogen honours beyond the configs of the released DiT / VAE: diffusers'
CosmosTransformer3DModel and AutoencoderKLWan built from an edited config.json, on weights cut
from the tiny test checkpoints.

    .venv/bin/python tools/reference/dump_diffusers_config_variants.py tests/data/reference

For each variant NAME it writes
  NAME.weights.safetensors  the tensors that differ from the base checkpoint (sliced from it),
                            __metadata__ "base" (the tests/data directory), "config" (the
                            variant's config.json) and "drop" (JSON list of base tensors it lacks)
  NAME.safetensors          a `duogen verify` dump of the variant, run by diffusers
tests/models/diffusers_config_variants_test.cpp assembles the variant checkpoint from the two and
runs `duogen verify` on it.

Variants:
  cosmos_dit.variant_plain   in_channels 16 (no condition-mask channel), concat_padding_mask false,
                             use_crossattn_projection false (context = text_embed_dim wide),
                             rope_scale (2, 1, 1) (diffusers' default), max_size (32, 64, 64), and
                             the no-op keys controlnet_block_every_n, img_context_num_tokens,
                             img_context_dim_out
  cosmos_dit.variant_patch1  patch_size (1, 1, 1) and rope_scale (1, 2, 2)
  wan_vae.variant_z8_gray    z_dim 8, in_channels 1, out_channels 1, patch_size 1, explicit
                             scale factors and decoder_base_dim (encode and decode cases)
Tolerance: fp32 CPU, reduction order only, as dump_cosmos_dit.py / dump_wan_vae.py: 1e-5.
"""
import copy
import json
import pathlib
import sys

import diffusers
import safetensors.torch
import torch
from diffusers import AutoencoderKLWan, CosmosTransformer3DModel
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

import dump_cosmos_dit  # noqa: F401  (installs the torchvision resize stand-in diffusers needs)
from reference_dump import write_dump

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests/data"
RTOL = 1e-5
RTOL_REASON = "fp32 CPU: reduction order only (as the released-config goldens)"
QK_NORM_EPS = 1e-6  # the original network's q/k RMSNorm epsilon (see dump_cosmos_dit.py)


def write_variant(out_dir, name, base, config, overrides, drop):
    path = out_dir / f"{name}.weights.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in overrides.items()}, str(path),
                                metadata={"base": base, "config": json.dumps(config),
                                          "drop": json.dumps(sorted(drop))})
    path.chmod(0o644)


def dit_model(config, state):
    init = {k: v for k, v in config.items() if not k.startswith("_")}
    model = CosmosTransformer3DModel(**init).eval()
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    for module_name, module in model.named_modules():
        if module_name.endswith(("norm_q", "norm_k")):
            module.eps = QK_NORM_EPS
    return model


def dit_variants(out_dir, producer):
    base_dir = DATA / "tiny-cosmos_dit"
    base_config = json.loads((base_dir / "config.json").read_text())
    sd = safetensors.torch.load_file(str(base_dir / "model.safetensors"))
    g = torch.Generator().manual_seed(0)

    # plain: patch features are (c, dt, dy, dx) with c slowest; keep the 16 latent channels.
    config = {**copy.deepcopy(base_config), "_diffusers_version": diffusers.__version__,
              "in_channels": 16, "concat_padding_mask": False, "use_crossattn_projection": False,
              "rope_scale": [2.0, 1.0, 1.0], "max_size": [32, 64, 64],
              "controlnet_block_every_n": 1, "img_context_dim_in": None,
              "img_context_num_tokens": 9, "img_context_dim_out": 7}
    overrides = {"patch_embed.proj.weight": sd["patch_embed.proj.weight"][:, :64].clone()}
    drop = [k for k in sd if k.startswith("crossattn_proj.")]
    state = {k: v for k, v in {**sd, **overrides}.items() if k not in drop}
    model = dit_model(config, state)
    x = torch.randn(1, 16, 2, 8, 12, generator=g)
    t = torch.tensor([0.6])
    ctx = torch.randn(1, 5, config["text_embed_dim"], generator=g)
    with torch.no_grad():
        v = model(x, t, ctx).sample
    write_variant(out_dir, "cosmos_dit.variant_plain", "tiny-cosmos_dit", config, overrides, drop)
    write_dump(out_dir / "cosmos_dit.variant_plain.safetensors", "cosmos_dit",
               {"x": x, "timesteps": t, "context": ctx}, {"velocity": v}, dtype="float32",
               rtol=RTOL, rtol_reason=RTOL_REASON, producer=producer)

    # patch1: of the 2x2 patch features keep dy = dx = 0 (input (c, dt, dy, dx): column 4c;
    # output (dy, dx, dt, c): the first 16 rows).
    config = {**copy.deepcopy(base_config), "patch_size": [1, 1, 1], "rope_scale": [1.0, 2.0, 2.0]}
    overrides = {"patch_embed.proj.weight": sd["patch_embed.proj.weight"][:, 0::4].clone(),
                 "proj_out.weight": sd["proj_out.weight"][:16].clone()}
    model = dit_model(config, {**sd, **overrides})
    x = torch.randn(1, 16, 1, 4, 6, generator=g)
    t = torch.tensor([0.35])
    ctx = torch.randn(1, 6, config["crossattn_proj_in_channels"], generator=g)
    cond, pad = torch.zeros(1, 1, 1, 4, 6), torch.zeros(1, 1, 32, 48)
    with torch.no_grad():
        v = model(x, t, ctx, condition_mask=cond, padding_mask=pad).sample
    write_variant(out_dir, "cosmos_dit.variant_patch1", "tiny-cosmos_dit", config, overrides, [])
    write_dump(out_dir / "cosmos_dit.variant_patch1.safetensors", "cosmos_dit",
               {"x": x, "timesteps": t, "context": ctx, "condition_mask": cond,
                "padding_mask": pad}, {"velocity": v}, dtype="float32", rtol=RTOL,
               rtol_reason=RTOL_REASON, producer=producer)


def vae_variant(out_dir, producer):
    base_dir = DATA / "tiny-wan_vae"  # original Wan layout
    base_config = json.loads((base_dir / "config.json").read_text())
    sd = safetensors.torch.load_file(str(base_dir / "model.safetensors"))
    z = 8
    moments = list(range(z)) + list(range(16, 16 + z))  # mu and logvar channels of z_dim 8
    config = {**copy.deepcopy(base_config), "z_dim": z, "in_channels": 1, "out_channels": 1,
              "patch_size": 1, "decoder_base_dim": base_config["base_dim"],
              "scale_factor_spatial": 8, "scale_factor_temporal": 4, "is_residual": False,
              "latents_mean": base_config["latents_mean"][:z],
              "latents_std": base_config["latents_std"][:z]}
    overrides = {
        "encoder.conv1.weight": sd["encoder.conv1.weight"][:, :1],
        "encoder.head.2.weight": sd["encoder.head.2.weight"][moments],
        "encoder.head.2.bias": sd["encoder.head.2.bias"][moments],
        "conv1.weight": sd["conv1.weight"][moments][:, moments],
        "conv1.bias": sd["conv1.bias"][moments],
        "conv2.weight": sd["conv2.weight"][:z, :z],
        "conv2.bias": sd["conv2.bias"][:z],
        "decoder.conv1.weight": sd["decoder.conv1.weight"][:, :z],
        "decoder.head.2.weight": sd["decoder.head.2.weight"][:1],
        "decoder.head.2.bias": sd["decoder.head.2.bias"][:1],
    }
    overrides = {k: v.clone() for k, v in overrides.items()}
    init = {k: v for k, v in config.items() if not k.startswith("_")}
    model = AutoencoderKLWan(**init).eval()
    state = convert_wan_vae_to_diffusers({**sd, **overrides})
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    write_variant(out_dir, "wan_vae.variant_z8_gray", "tiny-wan_vae", config, overrides, [])

    mean = torch.tensor(config["latents_mean"]).view(1, z, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(config["latents_std"]).view(1, z, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 1, 1, 16, 24, generator=g) * 2 - 1
    latent = torch.randn(1, z, 1, 3, 4, generator=g)
    with torch.no_grad():
        mu = model.encode(image).latent_dist.mode()
        decoded = model.decode(latent / inv_std + mean).sample
    write_dump(out_dir / "wan_vae.variant_z8_gray.encode.safetensors", "wan_vae.encode",
               {"image": image}, {"mu": mu, "latent": (mu - mean) * inv_std}, dtype="float32",
               rtol=RTOL, rtol_reason=RTOL_REASON, producer=producer)
    write_dump(out_dir / "wan_vae.variant_z8_gray.decode.safetensors", "wan_vae.decode",
               {"latent": latent}, {"decoded": decoded}, dtype="float32", rtol=RTOL,
               rtol_reason=RTOL_REASON, producer=producer)


def main() -> None:
    out_dir = pathlib.Path(sys.argv[1])
    producer = f"diffusers {diffusers.__version__}, torch {torch.__version__}"
    dit_variants(out_dir, producer)
    vae_variant(out_dir, producer)
    for p in out_dir.glob("*variant*.safetensors"):
        p.chmod(0o644)


if __name__ == "__main__":
    main()
