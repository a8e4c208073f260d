#!/usr/bin/env python3
"""Golden for the config variants duogen honours beyond the released Qwen2.5-VL configs: the tiny
checkpoints run by transformers' Qwen2_5_VLForConditionalGeneration with config.json edited.

    .venv/bin/python tools/reference/dump_qwen2_5_vl_variants.py \\
        tests/data/reference/qwen2_5_vl.variants.safetensors

Cases (tests/models/qwen2_5_vl_variants_test.cpp loads the same checkpoint with the same edit):
  text.<act>    tests/data/tiny-qwen2_5_vl with text_config.hidden_act = <act>, for every ACT2FN
                name duogen implements: `hidden` F32 [T, H], the last hidden state (final-normed),
                from input_ids I64 [T].
  vision.<act>  the same checkpoint with vision_config.hidden_act = <act>: `out` F32 [N / 4, H],
                model.visual(pixel_values, grid_thw) on one random 56x84 image.
  tie_in_text_config  `hidden` and `logits` F32 [V] (last token) of
                tests/data/tiny-qwen2_5_vl-tied (no lm_head.weight saved) with
                tie_word_embeddings moved from the top level into text_config, as pre-v5 saves
                wrote it: transformers 5.23 still ties lm_head to the embeddings (asserted here).
Tolerance (written beside the test): fp32 on CPU, the same ATen ops in the same order; rounding
differences only (reduction order in matmuls and attention), 1e-5 relative.
"""
import json
import pathlib
import shutil
import sys
import tempfile

import numpy as np
import safetensors.torch
import torch
import transformers
from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
TINY = ROOT / "tests/data/tiny-qwen2_5_vl"
TIED = ROOT / "tests/data/tiny-qwen2_5_vl-tied"

# Every name of transformers' ACT2FN that duogen implements (src/models/qwen2_5_vl/activation.h).
ACTIVATIONS = ["silu", "swish", "gelu", "gelu_python", "gelu_pytorch_tanh", "gelu_new",
               "gelu_python_tanh", "gelu_accurate", "gelu_fast", "gelu_10", "quick_gelu", "relu",
               "relu2", "relu6", "leaky_relu", "sigmoid", "tanh", "mish", "hardswish", "laplace",
               "sqrtsoftplus", "linear"]


def edited_copy(src: pathlib.Path, edit) -> pathlib.Path:
    """A temporary copy of a checkpoint directory with its config.json passed through `edit`."""
    dst = pathlib.Path(tempfile.mkdtemp(prefix="qwen-variant-"))
    for f in src.iterdir():
        shutil.copy(f, dst / f.name)
    config = json.loads((dst / "config.json").read_text())
    edit(config)
    (dst / "config.json").write_text(json.dumps(config, indent=1))
    return dst


def load(path: pathlib.Path):
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()


def text_case(model, ids):
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True, use_cache=False)
    return {"hidden": out.hidden_states[-1][0].float(), "logits": out.logits[0, -1].float()}


def main() -> None:
    out_path = pathlib.Path(sys.argv[1])
    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (1, 12))  # below the special ids of the tiny config (1000+)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (56, 84, 3), dtype=np.uint8)
    processed = Qwen2VLImageProcessor()(images=[image], return_tensors="pt")
    pixels, grid = processed["pixel_values"].float(), processed["image_grid_thw"]

    tensors = {"input.input_ids": ids[0].clone(), "input.pixel_values": pixels,
               "input.image_grid_thw": grid}
    for act in ACTIVATIONS:
        def set_text(c, act=act):
            c["text_config"]["hidden_act"] = act

        def set_vision(c, act=act):
            c["vision_config"]["hidden_act"] = act

        d = edited_copy(TINY, set_text)
        model = load(d)
        assert model.model.language_model.layers[0].mlp.act_fn.__class__ is \
            transformers.activations.ACT2FN[act].__class__
        tensors[f"expected.text.{act}.hidden"] = text_case(model, ids)["hidden"]
        shutil.rmtree(d)

        d = edited_copy(TINY, set_vision)
        model = load(d)
        with torch.no_grad():
            tensors[f"expected.vision.{act}.out"] = model.model.visual(pixels, grid_thw=grid).pooler_output.float()
        shutil.rmtree(d)

    def move_tie(c):
        assert c.pop("tie_word_embeddings") is True
        c["text_config"]["tie_word_embeddings"] = True

    d = edited_copy(TIED, move_tie)
    model = load(d)
    assert model.config.tie_word_embeddings is True
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    for k, v in text_case(model, ids).items():
        tensors[f"expected.tie_in_text_config.{k}"] = v
    shutil.rmtree(d)

    metadata = {"producer": f"transformers {transformers.__version__}, torch {torch.__version__}",
                "rtol": "1e-5", "rtol_reason": "fp32 CPU, same ATen ops: rounding only"}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(out_path),
                                metadata=metadata)
    print(f"wrote {out_path} ({len(tensors)} tensors)")


if __name__ == "__main__":
    main()
