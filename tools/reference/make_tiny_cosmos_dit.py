#!/usr/bin/env python3
"""Builds the tiny Cosmos-Predict2.5 DiT test checkpoints:

    .venv/bin/python tools/reference/make_tiny_cosmos_dit.py DATA_DIR

DATA_DIR/tiny-cosmos_dit           diffusers layout (config.json + model.safetensors)
DATA_DIR/tiny-cosmos_dit-original  the same weights in the original Cosmos layout: written as a
                                   `.pt` the way Cosmos saves it (nested under "model", `net.`
                                   prefix, Transformer Engine `_extra_state` entries, `accum_*`
                                   counters, `pos_embedder.*` buffers) and converted by
                                   tools/convert/cosmos_dit_pt_to_safetensors.py
DATA_DIR/reference/cosmos_dit_name_map.json  original -> diffusers names, from diffusers' own
                                   `convert_cosmos_transformer_checkpoint_to_diffusers`

A random diffusers `CosmosTransformer3DModel` with the Cosmos-Predict2.5-2B structure (17 input
channels + padding mask, patch (1, 2, 2), rope_scale (1, 3, 3), adaLN-LoRA, crossattn_proj
connector, no learnable position embedding) and tiny sizes: 2 blocks, 3 heads of 16 dims (16 is,
like 128, not a multiple of 6: RoPE split t/h/w = 8/4/4), adaLN-LoRA 8, context 24, connector
input 60 (= 3 layers x 20). Weights are rounded to bf16 and stored as bf16.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import safetensors.torch
import torch
from diffusers import CosmosTransformer3DModel
from diffusers.loaders.single_file_utils import convert_cosmos_transformer_checkpoint_to_diffusers

TINY = dict(in_channels=17, out_channels=16, num_attention_heads=3, attention_head_dim=16,
            num_layers=2, mlp_ratio=4.0, text_embed_dim=24, adaln_lora_dim=8,
            max_size=[128, 240, 240], patch_size=[1, 2, 2], rope_scale=[1.0, 3.0, 3.0],
            concat_padding_mask=True, extra_pos_embed_type=None, use_crossattn_projection=True,
            crossattn_proj_in_channels=60, encoder_hidden_states_channels=24)

ORIGINAL_GLOBAL = {"patch_embed.proj.": "x_embedder.proj.1.", "time_embed.t_embedder.": "t_embedder.1.",
                   "time_embed.norm.": "t_embedding_norm.", "norm_out.linear_1.": "final_layer.adaln_modulation.1.",
                   "norm_out.linear_2.": "final_layer.adaln_modulation.2.", "proj_out.": "final_layer.linear.",
                   "crossattn_proj.": "crossattn_proj."}
ORIGINAL_BLOCK = {"norm1.linear_1.": "adaln_modulation_self_attn.1.", "norm1.linear_2.": "adaln_modulation_self_attn.2.",
                  "norm2.linear_1.": "adaln_modulation_cross_attn.1.", "norm2.linear_2.": "adaln_modulation_cross_attn.2.",
                  "norm3.linear_1.": "adaln_modulation_mlp.1.", "norm3.linear_2.": "adaln_modulation_mlp.2.",
                  "ff.net.0.proj.": "mlp.layer1.", "ff.net.2.": "mlp.layer2."}
ATTN = {"to_q.": "q_proj.", "to_k.": "k_proj.", "to_v.": "v_proj.", "norm_q.": "q_norm.",
        "norm_k.": "k_norm.", "to_out.0.": "output_proj."}


def to_original(name: str) -> str:
    """diffusers -> original Cosmos name (architecture.md §12.3; checked against diffusers)."""
    for d, o in ORIGINAL_GLOBAL.items():
        if name.startswith(d):
            return o + name[len(d):]
    _, idx, rest = name.split(".", 2)
    for d, o in ORIGINAL_BLOCK.items():
        if rest.startswith(d):
            return f"blocks.{idx}.{o}{rest[len(d):]}"
    for attn, orig in (("attn1.", "self_attn."), ("attn2.", "cross_attn.")):
        for d, o in ATTN.items():
            if rest.startswith(attn + d):
                return f"blocks.{idx}.{orig}{o}{rest[len(attn + d):]}"
    raise ValueError(f"unmapped diffusers name {name}")


def main() -> None:
    data = pathlib.Path(sys.argv[1])
    torch.manual_seed(0)
    model = CosmosTransformer3DModel(**TINY).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight") and p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))  # non-trivial RMSNorm scales
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            else:  # scale so activations stay O(1) through the tiny net
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    sd = {k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}

    out = data / "tiny-cosmos_dit"
    out.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps({"_class_name": "CosmosTransformer3DModel", **TINY}, indent=2) + "\n")

    original = {"net." + to_original(k): v for k, v in sd.items()}
    back = convert_cosmos_transformer_checkpoint_to_diffusers(dict(original))
    assert set(back) == set(sd), sorted(set(back) ^ set(sd))[:10]
    for k, v in back.items():
        assert torch.equal(v, sd[k]), k
    # Non-parameter entries a real Cosmos checkpoint carries (architecture.md §12.2).
    extra = {"net.accum_video_sample_counter": torch.tensor(7), "net.accum_iteration": torch.tensor(3),
             "net.accum_train_in_hours": torch.tensor(1.5), "net.pos_embedder.seq": torch.arange(120.0),
             "net.pos_embedder.dim_spatial_range": torch.arange(0, 4, 2) / 4.0,
             "net.pos_embedder.dim_temporal_range": torch.arange(0, 8, 2) / 8.0,
             "net.blocks.0.self_attn._extra_state": torch.zeros(0, dtype=torch.uint8)}
    with tempfile.TemporaryDirectory() as tmp:
        pt = pathlib.Path(tmp) / "tiny_ema_bf16.pt"
        torch.save({"model": {**original, **extra}}, pt)
        converter = pathlib.Path(__file__).resolve().parents[1] / "convert/cosmos_dit_pt_to_safetensors.py"
        subprocess.run([sys.executable, str(converter), str(pt), str(data / "tiny-cosmos_dit-original")],
                       check=True)
    config = json.loads((data / "tiny-cosmos_dit-original" / "config.json").read_text())
    for key, value in TINY.items():  # the converter must read the sizes back off the tensors
        assert config[key] == value, (key, config[key], value)

    pairs = {k.removeprefix("net."): next(iter(convert_cosmos_transformer_checkpoint_to_diffusers({k: v})))
             for k, v in original.items()}
    name_map = data / "reference" / "cosmos_dit_name_map.json"
    name_map.parent.mkdir(parents=True, exist_ok=True)
    name_map.write_text(json.dumps(dict(sorted(pairs.items())), indent=1) + "\n")
    print(f"wrote {out}, {data / 'tiny-cosmos_dit-original'} and {name_map} ({len(pairs)} names)")


if __name__ == "__main__":
    main()
