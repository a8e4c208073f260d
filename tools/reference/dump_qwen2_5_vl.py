#!/usr/bin/env python3
"""Dumps a Qwen2.5-VL reference case (transformers Qwen2_5_VLForConditionalGeneration) for
`duogen verify` (component `qwen2_5_vl`):

    .venv/bin/python tools/reference/dump_qwen2_5_vl.py --model DIR --out FILE \\
        (--prompt TEXT | --random-prompt N) [--image W H]... [--dtype float32|bfloat16] \\
        [--max-new-tokens G] [--vision-embeds-input]

Inputs:   input_ids I64 [1, T]; with images pixel_values F32 [N, 1176] and image_grid_thw I64 [n, 3];
          max_new_tokens I64 [1]; eos_token_id I64 [k] (the stop ids generate used).
Expected: logits F32 [1, T, V]; hidden_states F32 [L + 1, 1, T, H] (output_hidden_states order,
          the last entry final-normed); position_ids I64 [3, 1, T] and rope_deltas I64 [1, 1]
          (get_rope_index); generated_ids I64 [1, G] (greedy generate, new tokens only);
          vision_embeds F32 [N / 4, H] when there are images.
--vision-embeds-input writes vision_embeds as an *input* instead of an expected output, so the
language model can be checked on its own (before duogen has a vision tower).

--prompt renders a one-turn chat with the model directory's processor (tokenizer and chat
template); --random-prompt N uses N random ids below the special ones (tiny checkpoints whose
vocabulary cannot hold Qwen's tokens), each image inserted as <|vision_start|><|image_pad|>×n
<|vision_end|> between text runs. --image W H adds a random image of that size (pixels).
"""
import argparse
import pathlib

import numpy as np
import torch
import transformers
from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessor

from reference_dump import write_dump

# fp32 on CPU: duogen and torch run the same ATen kernels, but duogen fuses q/k/v and gate/up into
# one matmul each and attention reductions may be ordered differently: rounding only, ~1e-6.
# bf16: every matmul output and residual add rounds to an 8-bit mantissa (2^-8 ≈ 4e-3), so a few
# layers of differently ordered rounding give ~1e-2 relative.
RTOL = {"float32": (1e-5, "fp32 CPU: rounding only (fused q/k/v, gate/up matmuls)"),
        "bfloat16": (2e-2, "bf16: 8-bit mantissa rounding through every layer")}


def random_images(sizes, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for w, h in sizes]


def build_random_prompt(config, length, grids, seed, merge):
    g = torch.Generator().manual_seed(seed)
    special = min(config.image_token_id, config.vision_start_token_id, config.vision_end_token_id,
                  config.text_config.bos_token_id or config.text_config.vocab_size)
    n_runs = len(grids) + 1
    cuts = sorted(torch.randint(0, length + 1, (n_runs - 1,), generator=g).tolist())
    bounds = [0] + cuts + [length]
    ids = []
    for i in range(n_runs):
        ids += torch.randint(0, special, (bounds[i + 1] - bounds[i],), generator=g).tolist()
        if i < len(grids):
            t, h, w = grids[i]
            ids += [config.vision_start_token_id] + [config.image_token_id] * (t * h * w // merge // merge)
            ids += [config.vision_end_token_id]
    return torch.tensor([ids], dtype=torch.long)


def chat_prompt(model_dir, text, images):
    processor = transformers.AutoProcessor.from_pretrained(model_dir)
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]
    rendered = processor.apply_chat_template([{"role": "user", "content": content}],
                                             add_generation_prompt=True, tokenize=False)
    return processor(text=[rendered], images=images or None, return_tensors="pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt")
    prompt.add_argument("--random-prompt", type=int, metavar="N")
    parser.add_argument("--image", nargs=2, type=int, action="append", default=[], metavar=("W", "H"))
    parser.add_argument("--dtype", choices=sorted(RTOL), default="float32")
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vision-embeds-input", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    dtype = getattr(torch, args.dtype)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(args.model, dtype=dtype).eval()
    config = model.config
    merge = config.vision_config.spatial_merge_size
    images = random_images(args.image, args.seed)

    inputs = {}
    if args.prompt is not None:
        batch = chat_prompt(args.model, args.prompt, images)
        input_ids = batch["input_ids"]
        if images:
            inputs["pixel_values"], inputs["image_grid_thw"] = batch["pixel_values"], batch["image_grid_thw"]
    else:
        if images:
            processed = Qwen2VLImageProcessor()(images=images, return_tensors="pt")
            inputs["pixel_values"] = processed["pixel_values"]
            inputs["image_grid_thw"] = processed["image_grid_thw"]
        grids = inputs["image_grid_thw"].tolist() if images else []
        input_ids = build_random_prompt(config, args.random_prompt, grids, args.seed, merge)

    mm_token_type_ids = (input_ids == config.image_token_id).int()
    eos = config.text_config.eos_token_id
    eos = eos if isinstance(eos, list) else [eos]
    forward_kwargs = {"mm_token_type_ids": mm_token_type_ids}
    if images:
        forward_kwargs["pixel_values"] = inputs["pixel_values"].to(dtype)
        forward_kwargs["image_grid_thw"] = inputs["image_grid_thw"]

    expected = {}
    with torch.no_grad():
        if images:
            features = model.model.get_image_features(forward_kwargs["pixel_values"], inputs["image_grid_thw"])
            expected["vision_embeds"] = torch.cat(features.pooler_output, 0).float()
            position_ids, deltas = model.model.get_rope_index(input_ids, mm_token_type_ids, inputs["image_grid_thw"])
        else:
            t = input_ids.shape[1]
            position_ids = torch.arange(t).view(1, 1, t).expand(3, 1, t)
            deltas = torch.zeros(1, 1, dtype=torch.long)
        out = model(input_ids=input_ids, output_hidden_states=True, use_cache=False, **forward_kwargs)
        generated = model.generate(input_ids=input_ids, max_new_tokens=args.max_new_tokens, do_sample=False,
                                   eos_token_id=eos, pad_token_id=eos[0], **forward_kwargs)
    expected["logits"] = out.logits.float()
    expected["hidden_states"] = torch.stack([h.float() for h in out.hidden_states], 0)
    expected["position_ids"] = position_ids.contiguous()
    expected["rope_deltas"] = deltas.reshape(1, 1).long()
    expected["generated_ids"] = generated[:, input_ids.shape[1]:]

    inputs["input_ids"] = input_ids
    inputs["max_new_tokens"] = torch.tensor([args.max_new_tokens], dtype=torch.long)
    inputs["eos_token_id"] = torch.tensor(eos, dtype=torch.long)
    if images and args.vision_embeds_input:
        inputs["vision_embeds"] = expected.pop("vision_embeds")
    rtol, reason = RTOL[args.dtype]
    write_dump(args.out, "qwen2_5_vl", inputs, expected, dtype=args.dtype, rtol=rtol, rtol_reason=reason,
               producer=f"transformers {transformers.__version__}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
