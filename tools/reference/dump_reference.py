#!/usr/bin/env python3
"""Runs a component of a reference implementation on fixed inputs and writes a duogen dump.

    .venv/bin/python tools/reference/dump_reference.py COMPONENT --model DIR --out FILE [--dtype float32|bfloat16]

Components (the names `duogen verify` knows):
  qwen2_5_vl.text_embed_norm   token embedding + the first decoder layer's input RMSNorm
                               (transformers Qwen2_5_VLForConditionalGeneration)
"""
import argparse
import pathlib

import torch
import transformers

from reference_dump import write_dump

# Tolerances, with where they come from: fp32 on CPU agrees to rounding (~1e-6 relative for a
# norm over 64 values); bf16 has an 8-bit mantissa, so one rounding step is 2^-8 ≈ 4e-3 relative
# and the reference and duogen may round differently in the final multiply.
RTOL = {"float32": (1e-5, "fp32 CPU: rounding only"),
        "bfloat16": (1e-2, "bf16: ~2 ulp of an 8-bit mantissa")}


def dump_qwen2_5_vl_text_embed_norm(model_dir: pathlib.Path, out: pathlib.Path, dtype: str) -> None:
    model = transformers.Qwen2_5_VLForConditionalGeneration.from_pretrained(
        model_dir, dtype=getattr(torch, dtype)).eval()
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.text_config.vocab_size
    input_ids = torch.randint(0, vocab, (2, 7), generator=generator)
    with torch.no_grad():
        embeds = model.get_input_embeddings()(input_ids)
        normed = model.model.language_model.layers[0].input_layernorm(embeds)
    rtol, reason = RTOL[dtype]
    write_dump(out, "qwen2_5_vl.text_embed_norm", {"input_ids": input_ids},
               {"embeds": embeds, "layer0_input_norm": normed}, dtype=dtype, rtol=rtol,
               rtol_reason=reason,
               producer=f"transformers {transformers.__version__}, torch {torch.__version__}")


COMPONENTS = {
    "qwen2_5_vl.text_embed_norm": dump_qwen2_5_vl_text_embed_norm,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("component", choices=sorted(COMPONENTS))
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--dtype", choices=sorted(RTOL), default="float32")
    args = parser.parse_args()
    torch.manual_seed(0)
    COMPONENTS[args.component](args.model, args.out, args.dtype)


if __name__ == "__main__":
    main()
