#!/usr/bin/env python3
"""Golden for config parsing: how transformers resolves several Qwen2.5-VL config.json files.

Writes a JSON list of {"name", "config" (the file as written), "resolved" (the values
transformers' Qwen2_5_VLConfig ends up with)}; tests/models/qwen2_5_vl_config_test.cpp parses each
"config" with duogen and must get "resolved".

    .venv/bin/python tools/reference/dump_qwen2_5_vl_configs.py tests/data/reference/qwen2_5_vl_configs.json
"""
import json
import pathlib
import sys

import transformers
from transformers import Qwen2_5_VLConfig

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# The hub's legacy flat layout, as Qwen/Qwen2.5-VL-7B-Instruct ships it (architecture.md §4.1, §5.1).
LEGACY_7B = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
    "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
    "vision_start_token_id": 151652, "vision_end_token_id": 151653, "vision_token_id": 151654,
    "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu", "hidden_size": 3584,
    "initializer_range": 0.02, "intermediate_size": 18944, "max_position_embeddings": 128000,
    "max_window_layers": 28, "num_attention_heads": 28, "num_hidden_layers": 28,
    "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 152064,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280,
                      "intermediate_size": 3420, "num_heads": 16, "in_chans": 3,
                      "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                      "spatial_patch_size": 14, "window_size": 112,
                      "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2,
                      "temporal_patch_size": 2},
}

# 3B-like: tied embeddings, an eos list, and keys left out so that class defaults apply.
PARTIAL = {
    "model_type": "qwen2_5_vl", "hidden_size": 2048, "num_attention_heads": 16,
    "num_key_value_heads": 2, "num_hidden_layers": 36, "intermediate_size": 11008,
    "vocab_size": 151936, "tie_word_embeddings": True, "eos_token_id": [151645, 151643],
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "vision_config": {"out_hidden_size": 2048, "hidden_size": 1280},
}

EMPTY = {"model_type": "qwen2_5_vl"}


def resolve(config: dict) -> dict:
    c = Qwen2_5_VLConfig(**config)
    t, v = c.text_config, c.vision_config
    rope = t.rope_parameters or {}
    eos = t.eos_token_id
    return {
        "text": {
            "vocab_size": t.vocab_size, "hidden_size": t.hidden_size,
            "intermediate_size": t.intermediate_size, "num_hidden_layers": t.num_hidden_layers,
            "num_attention_heads": t.num_attention_heads,
            "num_key_value_heads": t.num_key_value_heads,
            "max_position_embeddings": t.max_position_embeddings, "rms_norm_eps": t.rms_norm_eps,
            "rope_theta": rope.get("rope_theta"), "mrope_section": rope.get("mrope_section"),
            "hidden_act": t.hidden_act,
        },
        "vision": {
            "depth": v.depth, "hidden_size": v.hidden_size,
            "intermediate_size": v.intermediate_size, "num_heads": v.num_heads,
            "in_channels": v.in_channels, "patch_size": v.patch_size,
            "spatial_merge_size": v.spatial_merge_size,
            "temporal_patch_size": v.temporal_patch_size, "window_size": v.window_size,
            "out_hidden_size": v.out_hidden_size, "tokens_per_second": v.tokens_per_second,
            "fullatt_block_indexes": list(v.fullatt_block_indexes),
        },
        "tie_word_embeddings": c.tie_word_embeddings,
        "image_token_id": c.image_token_id, "video_token_id": c.video_token_id,
        "vision_start_token_id": c.vision_start_token_id,
        "vision_end_token_id": c.vision_end_token_id,
        "bos_token_id": t.bos_token_id,
        "eos_token_ids": eos if isinstance(eos, list) else [eos],
    }


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    tiny = json.loads((ROOT / "tests/data/tiny-qwen2_5_vl/config.json").read_text())
    cases = [("tiny_nested", tiny), ("legacy_7b", LEGACY_7B), ("partial_3b", PARTIAL),
             ("empty", EMPTY)]
    golden = {"producer": f"transformers {transformers.__version__}",
              "cases": [{"name": n, "config": c, "resolved": resolve(c)} for n, c in cases]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
