#!/usr/bin/env python3
"""Dumps Cosmos-Predict2.5 DiT reference cases (diffusers CosmosTransformer3DModel) for
`duogen verify`:

    .venv/bin/python tools/reference/dump_cosmos_dit.py --model tests/data/tiny-cosmos_dit --out-dir DIR

Cases (CPU; timesteps on the model scale, i.e. diffusers' `timestep` = sigma):
  cosmos_dit.t2i               x [1, 16, 1, 8, 12], one timestep, context [1, 7, 60]
  cosmos_dit.condition_frames  batch 2, 3 frames, the first 2 condition frames (mask 1, per-frame
                               timestep 1e-4, target frame its own sigma), diffusers' 5-D timesteps
  cosmos_dit.padding_mask      a random 0/1 pixel-space padding mask [1, 1, 64, 96] (nearest-
                               resized to the latent grid)
  cosmos_dit.hidden_states     the context from all-layer hidden states [4, 7, 20] (HF tuple:
                               entry 0 = embeddings, dropped) through the connector
  cosmos_dit.connector         the connector alone: hidden states -> projected context
  cosmos_dit.packed            DuoGen's packed frames of different sizes (2 condition frames +
                               the target)
  cosmos_dit.condition_frames.bf16  the condition_frames case run by duogen in bf16 against the
                               fp32 reference
No library implements the all-layer normalisation (Cosmos does it inside its text encoder) or
the packed sequence, so those parts of the reference are written here from architecture.md §7.1
and §9.2, on top of diffusers' own modules (patch_embed, time_embed, rope, blocks, norm_out).

The q/k RMSNorm epsilon is set to 1e-6, the original network's value (Cosmos
`minimal_v4_dit.py`); diffusers' `Attention(qk_norm="rms_norm")` leaves it at its 1e-5 default.
"""
import argparse
import json
import pathlib

import types

import diffusers
import diffusers.models.transformers.transformer_cosmos as transformer_cosmos
import safetensors.torch
import torch
from diffusers import CosmosTransformer3DModel

from reference_dump import write_dump

# fp32 CPU: the same ATen kernels, but duogen runs the adaLN per frame instead of per token and
# its attention/RMSNorm reductions may be grouped differently; 2 blocks deep that is ~1e-6.
RTOL = 1e-5
RTOL_REASON = "fp32 CPU: reduction order (attention, norms, per-frame vs per-token adaLN)"
# bf16 network (duogen's §8.8 policy: adaLN and final layer in fp32) against the fp32 reference:
# bf16 has 8 mantissa bits (~4e-3 per rounding), accumulated over 2 blocks.
RTOL_BF16 = 2e-2
RTOL_BF16_REASON = "bf16 network vs fp32 reference: 8-bit mantissa roundings over 2 blocks"
QK_NORM_EPS = 1e-6


def nearest_resize(img, size, interpolation=None):
    """torchvision's tensor `resize(..., InterpolationMode.NEAREST)` is
    `interpolate(mode="nearest")`; torchvision is not a pinned dependency, so diffusers' forward
    (which imports it only when installed) gets this stand-in."""
    return torch.nn.functional.interpolate(img, size=size, mode="nearest")


if not hasattr(transformer_cosmos, "transforms"):
    transformer_cosmos.transforms = types.SimpleNamespace(
        functional=types.SimpleNamespace(resize=nearest_resize),
        InterpolationMode=types.SimpleNamespace(NEAREST="nearest"))


def load(model_dir: pathlib.Path) -> CosmosTransformer3DModel:
    config = json.loads((model_dir / "config.json").read_text())
    config.pop("_class_name")
    model = CosmosTransformer3DModel(**config).eval()
    state = {k: v.float() for k, v in safetensors.torch.load_file(str(model_dir / "model.safetensors")).items()}
    model.load_state_dict(state, strict=True)
    for name, module in model.named_modules():
        if name.endswith(("norm_q", "norm_k")):
            module.eps = QK_NORM_EPS
    return model


def normalized_layers(hidden_states: torch.Tensor, in_channels: int) -> torch.Tensor:
    """architecture.md §7.1: drop HF entry 0 if needed, per-token (x - mean) / (std + 1e-8) with
    the unbiased std, concatenated layer-major. [E, L, H] -> [1, L, E' H]."""
    entries, length, hidden = hidden_states.shape
    if (entries - 1) * hidden == in_channels:
        hidden_states = hidden_states[1:]
    x = hidden_states.float()
    x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-8)
    return x.permute(1, 0, 2).reshape(1, length, -1)


def packed_velocity(model, frames, steps, is_cond, context, context_mask=None):
    """architecture.md §9.2 with diffusers' modules: frame f gets RoPE t = f and its own grid,
    its own timestep and mask; self-attention over all tokens; output for the last frame.
    context_mask [B, keys] (True = attend) lets contexts of different lengths share a batch
    (the demo model's training); None attends to every key."""
    tokens, temb, emb, cos, sin, counts = [], [], [], [], [], []
    for f, lat in enumerate(frames):
        b, c, h, w = lat.shape
        inp = torch.cat([lat[:, :, None], torch.full((b, 1, 1, h, w), float(is_cond[f])),
                         torch.zeros(b, 1, 1, h, w)], 1)
        tok = model.patch_embed(inp).flatten(1, 3)
        n = tok.shape[1]
        cf, sf = model.rope(torch.zeros(b, c + 2, f + 1, h, w))  # rows of the last frame have t = f
        te, ee = model.time_embed(tok, steps[:, f])
        tokens.append(tok); cos.append(cf[-n:]); sin.append(sf[-n:]); counts.append(n)
        temb.append(te[:, None].expand(-1, n, -1)); emb.append(ee[:, None].expand(-1, n, -1))
    hs, temb, emb = torch.cat(tokens, 1), torch.cat(temb, 1), torch.cat(emb, 1)
    rope = (torch.cat(cos, 0), torch.cat(sin, 0))
    ctx = model.crossattn_proj(context)
    mask = None if context_mask is None else context_mask[:, None, None, :]
    for block in model.transformer_blocks:
        hs = block(hs, ctx, emb, temb, rope, None, mask, None)
    n = counts[-1]
    out = model.proj_out(model.norm_out(hs[:, -n:], emb[:, -n:], temb[:, -n:]))
    b, _, h, w = frames[-1].shape
    out = out.unflatten(2, (2, 2, 1, -1)).unflatten(1, (1, h // 2, w // 2))
    return out.permute(0, 7, 1, 6, 2, 4, 3, 5).flatten(6, 7).flatten(4, 5).flatten(2, 3)[:, :, 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--out-dir", type=pathlib.Path, required=True)
    args = parser.parse_args()
    model = load(args.model)
    producer = f"diffusers {diffusers.__version__}, torch {torch.__version__}"
    in_ch = model.config.crossattn_proj_in_channels
    g = torch.Generator().manual_seed(0)

    def dump(name, component, inputs, expected, dtype="float32", rtol=RTOL, reason=RTOL_REASON):
        write_dump(args.out_dir / f"{name}.safetensors", component, inputs, expected, dtype=dtype,
                   rtol=rtol, rtol_reason=reason, producer=producer)

    def run(x, t, context, cond, pad):
        with torch.no_grad():
            return model(x, t, context, condition_mask=cond, padding_mask=pad).sample

    # t2i: one frame, one timestep, no condition.
    x = torch.randn(1, 16, 1, 8, 12, generator=g)
    t = torch.tensor([0.73])
    ctx = torch.randn(1, 7, in_ch, generator=g)
    cond, pad = torch.zeros(1, 1, 1, 8, 12), torch.zeros(1, 1, 64, 96)
    dump("cosmos_dit.t2i", "cosmos_dit",
         {"x": x, "timesteps": t, "context": ctx, "condition_mask": cond, "padding_mask": pad},
         {"velocity": run(x, t, ctx, cond, pad)})

    # Condition frames: batch 2, frames 0-1 clean conditions at t = 1e-4, frame 2 the target.
    x = torch.randn(2, 16, 3, 8, 12, generator=g)
    cond = torch.zeros(2, 1, 3, 8, 12)
    cond[:, :, :2] = 1.0
    t = torch.tensor([[1e-4, 1e-4, 0.61], [1e-4, 1e-4, 0.35]]).view(2, 1, 3, 1, 1)
    ctx = torch.randn(2, 5, in_ch, generator=g)
    pad = torch.zeros(1, 1, 64, 96)
    inputs = {"x": x, "timesteps": t, "context": ctx, "condition_mask": cond, "padding_mask": pad}
    expected = {"velocity": run(x, t, ctx, cond, pad)}
    dump("cosmos_dit.condition_frames", "cosmos_dit", inputs, expected)
    dump("cosmos_dit.condition_frames.bf16", "cosmos_dit", inputs, expected, dtype="bfloat16",
         rtol=RTOL_BF16, reason=RTOL_BF16_REASON)

    # Padding mask: random 0/1 in pixel space, nearest-resized by diffusers (torchvision).
    x = torch.randn(1, 16, 1, 8, 12, generator=g)
    t = torch.tensor([0.4])
    ctx = torch.randn(1, 6, in_ch, generator=g)
    cond = torch.zeros(1, 1, 1, 8, 12)
    pad = (torch.rand(1, 1, 64, 96, generator=g) > 0.5).float()
    dump("cosmos_dit.padding_mask", "cosmos_dit",
         {"x": x, "timesteps": t, "context": ctx, "condition_mask": cond, "padding_mask": pad},
         {"velocity": run(x, t, ctx, cond, pad)})

    # All-layer hidden states through the connector (HF tuple of 4 entries of width 20).
    hidden = torch.randn(4, 7, 20, generator=g) * torch.linspace(0.5, 3.0, 4).view(4, 1, 1)
    feats = normalized_layers(hidden, in_ch)
    with torch.no_grad():
        projected = model.crossattn_proj(feats)
    x = torch.randn(1, 16, 1, 8, 12, generator=g)
    t = torch.tensor([0.52])
    cond, pad = torch.zeros(1, 1, 1, 8, 12), torch.zeros(1, 1, 64, 96)
    dump("cosmos_dit.hidden_states", "cosmos_dit",
         {"x": x, "timesteps": t, "hidden_states_all_layers": hidden, "condition_mask": cond,
          "padding_mask": pad},
         {"velocity": run(x, t, feats, cond, pad)})
    dump("cosmos_dit.connector", "cosmos_dit.connector", {"hidden_states_all_layers": hidden},
         {"features": feats, "context": projected})

    # Packed frames of different sizes: two condition images and the target.
    frames = [torch.randn(1, 16, 6, 8, generator=g), torch.randn(1, 16, 10, 6, generator=g),
              torch.randn(1, 16, 8, 12, generator=g)]
    steps = torch.tensor([[1e-4, 1e-4, 0.66]])
    is_cond = [1, 1, 0]
    ctx = torch.randn(1, 7, in_ch, generator=g)
    with torch.no_grad():
        v = packed_velocity(model, frames, steps, is_cond, ctx)
    inputs = {f"frame.{i}": f for i, f in enumerate(frames)}
    inputs.update({"frame_timesteps": steps, "frame_is_condition": torch.tensor(is_cond, dtype=torch.int64),
                   "context": ctx})
    dump("cosmos_dit.packed", "cosmos_dit.packed", inputs, {"velocity": v})


if __name__ == "__main__":
    main()
