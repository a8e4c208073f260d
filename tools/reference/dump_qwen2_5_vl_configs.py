#!/usr/bin/env python3
"""Golden for config parsing: how transformers resolves several Qwen2.5-VL config.json files.

Writes {"cases": [{"name", "config" (the file as written), "resolved" (the values transformers'
Qwen2_5_VLConfig ends up with)}], "refused": [{"name", "config", "key" (what duogen must name),
"transformers" (what transformers makes of it, for the record)}]}.
tests/models/qwen2_5_vl_config_test.cpp parses each case's "config" with duogen and must get
"resolved", and must refuse each "refused" config with a FormatError naming the file and "key".

    .venv/bin/python tools/reference/dump_qwen2_5_vl_configs.py tests/data/reference/qwen2_5_vl_configs.json
"""
import copy
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


def tiny_with(edit):
    config = json.loads((ROOT / "tests/data/tiny-qwen2_5_vl/config.json").read_text())
    edit(config)
    return config


def text_edit(**kv):
    return lambda c: c["text_config"].update(kv)


def vision_edit(**kv):
    return lambda c: c["vision_config"].update(kv)


def move_tie(top):
    def edit(c):
        c.pop("tie_word_embeddings")
        if top is not None:
            c["tie_word_embeddings"] = top
        c["text_config"]["tie_word_embeddings"] = True
    return edit


def drop_layer_types(**kv):
    def edit(c):
        c["text_config"].pop("layer_types")
        c["text_config"].update(kv)
    return edit


# Honoured variants: how transformers resolves keys that real files carry in more than one way.
VARIANTS = [
    # pre-v5 saves put tie_word_embeddings in text_config; v5 forwards it to the outer config.
    ("tie_in_text_config", tiny_with(move_tie(None))),
    ("tie_top_false_text_true", tiny_with(move_tie(False))),
    # attribute_map aliases win over the field names.
    ("vision_aliases", tiny_with(vision_edit(num_attention_heads=4, num_heads=2, num_hidden_layers=3,
                                             depth=5, fullatt_block_indexes=[0]))),
    # rope_scaling replaces rope_parameters wholesale; rope_theta then comes from the plain key.
    ("rope_scaling_wins", tiny_with(text_edit(
        rope_theta=2000000.0, rope_parameters={"rope_theta": 5.0, "mrope_section": [1, 2, 5]},
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}))),
    ("vision_rope_theta_key", tiny_with(lambda c: (c["vision_config"].pop("rope_parameters"),
                                                   c["vision_config"].update(rope_theta=123.0)))),
    # use_sliding_window with every layer below max_window_layers (or no window): all full.
    ("sliding_window_all_full", tiny_with(drop_layer_types(use_sliding_window=True,
                                                           sliding_window=64, max_window_layers=2))),
    ("sliding_window_null", tiny_with(drop_layer_types(use_sliding_window=True, sliding_window=None,
                                                       max_window_layers=0))),
    ("legacy_keys_agree", tiny_with(vision_edit(in_chans=3, spatial_patch_size=14))),
    ("attention_bias_true", tiny_with(text_edit(attention_bias=True, head_dim=16))),
]

# Refused: duogen must raise a FormatError naming the file and `key`.
REFUSED = [
    ("sliding_window_active", "text_config.use_sliding_window",
     tiny_with(drop_layer_types(use_sliding_window=True, sliding_window=64, max_window_layers=1))),
    ("legacy_sliding_window_active", "use_sliding_window",
     {**LEGACY_7B, "use_sliding_window": True, "max_window_layers": 20}),
    ("layer_types_sliding", "text_config.layer_types",
     tiny_with(text_edit(layer_types=["full_attention", "sliding_attention"]))),
    ("rope_yarn", "text_config.rope_parameters.rope_type",
     tiny_with(text_edit(rope_parameters={"rope_type": "yarn", "factor": 2.0,
                                          "mrope_section": [2, 3, 3]}))),
    ("legacy_rope_linear", "rope_scaling.type",
     {**LEGACY_7B, "rope_scaling": {"type": "linear", "factor": 2.0, "mrope_section": [16, 24, 24]}}),
    ("text_act_prelu", "text_config.hidden_act", tiny_with(text_edit(hidden_act="prelu"))),
    ("text_act_unknown", "text_config.hidden_act", tiny_with(text_edit(hidden_act="swiglu"))),
    ("vision_act_xielu", "vision_config.hidden_act", tiny_with(vision_edit(hidden_act="xielu"))),
    ("vision_rope_type", "vision_config.rope_parameters.rope_type",
     tiny_with(vision_edit(rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0}))),
    ("attention_bias_false", "text_config.attention_bias",
     tiny_with(text_edit(attention_bias=False))),
    ("head_dim_mismatch", "text_config.head_dim", tiny_with(text_edit(head_dim=32))),
    ("in_chans_mismatch", "vision_config.in_chans", tiny_with(vision_edit(in_chans=1))),
]


def transformers_view(config: dict) -> dict:
    """What transformers makes of a refused config (or the error it raises)."""
    try:
        c = Qwen2_5_VLConfig(**copy.deepcopy(config))
    except Exception as e:  # noqa: BLE001 - recorded, not handled
        return {"error": f"{type(e).__name__}: {e}"}
    t, v = c.text_config, c.vision_config
    view = {"layer_types": list(t.layer_types), "sliding_window": t.sliding_window,
            "rope_type": (t.rope_parameters or {}).get("rope_type"), "hidden_act": t.hidden_act,
            "vision_hidden_act": v.hidden_act, "vision_in_channels": v.in_channels}
    for act in (t.hidden_act, v.hidden_act):
        if act not in transformers.activations.ACT2FN:
            view["model_error"] = f"KeyError: ACT2FN has no '{act}'"
    return view


def resolve(config: dict) -> dict:
    c = Qwen2_5_VLConfig(**copy.deepcopy(config))  # transformers edits nested dicts in place
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
            "hidden_act": t.hidden_act, "layer_types": list(t.layer_types),
        },
        "vision": {
            "depth": v.depth, "hidden_size": v.hidden_size,
            "intermediate_size": v.intermediate_size, "num_heads": v.num_heads,
            "in_channels": v.in_channels, "patch_size": v.patch_size,
            "spatial_merge_size": v.spatial_merge_size,
            "temporal_patch_size": v.temporal_patch_size, "window_size": v.window_size,
            "out_hidden_size": v.out_hidden_size, "tokens_per_second": v.tokens_per_second,
            "fullatt_block_indexes": list(v.fullatt_block_indexes), "hidden_act": v.hidden_act,
            "rope_theta": (v.rope_parameters or {}).get("rope_theta"),
            "rope_type": (v.rope_parameters or {}).get("rope_type"),
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
             ("empty", EMPTY)] + VARIANTS
    golden = {"producer": f"transformers {transformers.__version__}",
              "cases": [{"name": n, "config": c, "resolved": resolve(c)} for n, c in cases],
              "refused": [{"name": n, "key": k, "config": c, "transformers": transformers_view(c)}
                          for n, k, c in REFUSED]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
