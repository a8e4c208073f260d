#!/usr/bin/env python3
"""Assembles a diffusers-layout Cosmos-Predict2.5 snapshot directory, which `duogen video` and
`duogen t2i --model` run, from the ORIGINAL release files:

    .venv/bin/python tools/convert/assemble_cosmos_snapshot.py \
        --dit 81edfebe-bd6a-4039-8c1d-737df1a790bf_ema_bf16.pt \   # Cosmos-Predict2.5-2B DiT
        --vae tokenizer.pth \                                      # the Wan2.1 VAE
        --text-encoder Cosmos-Reason1-7B \                          # a transformers directory
        --out Cosmos-Predict2.5-2B-snapshot [--variant post-trained|pre-trained] [--link]

--dit and --vae are the original `.pt`/`.pth` files (converted here with
tools/convert/cosmos_dit_pt_to_safetensors.py and wan_vae_pth_to_safetensors.py) or directories
that already hold safetensors + config.json (used as they are). --text-encoder is a
Qwen2.5-VL-architecture directory with config.json, safetensors and tokenizer files
(tokenizer.json, tokenizer_config.json); it becomes both text_encoder/ and tokenizer/ (copied,
or symlinked with --link).

The scheduler follows the variant:
  post-trained (default; the published diffusers snapshot's config): UniPCMultistepScheduler with
    Karras flow sigmas 0.01..200, as diffusers' scripts/convert_cosmos_to_diffusers.py writes it;
  pre-trained: the linear shift-5 flow sigmas of that experiment (architecture.md §12.1); run it
    with `duogen video --condition-timestep -1` (its conditional_frame_timestep is -1).
Nothing is downloaded; the output directory must not exist yet.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent

SCHEDULERS = {
    "post-trained": {"use_karras_sigmas": True, "use_flow_sigmas": True,
                     "prediction_type": "flow_prediction", "sigma_max": 200.0, "sigma_min": 0.01},
    "pre-trained": {"use_flow_sigmas": True, "prediction_type": "flow_prediction",
                    "flow_shift": 5.0},
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                   "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
                   "chat_template.json")


def component(source: pathlib.Path, converter: str, out: pathlib.Path, link: bool) -> None:
    if source.is_dir():
        if not (source / "config.json").is_file():
            sys.exit(f"error: {source}: a component directory needs a config.json")
        place(source, out, link)
        return
    if source.suffix not in (".pt", ".pth", ".ckpt"):
        sys.exit(f"error: {source}: expected an original .pt/.pth file or a converted directory")
    subprocess.run([sys.executable, str(HERE / converter), str(source), str(out)], check=True)


def place(source: pathlib.Path, target: pathlib.Path, link: bool) -> None:
    if link:
        target.symlink_to(source.resolve(), target_is_directory=True)
    else:
        shutil.copytree(source, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dit", type=pathlib.Path, required=True)
    parser.add_argument("--vae", type=pathlib.Path, required=True)
    parser.add_argument("--text-encoder", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--variant", choices=sorted(SCHEDULERS), default="post-trained")
    parser.add_argument("--link", action="store_true", help="symlink directories instead of copying")
    args = parser.parse_args()
    for path in (args.dit, args.vae, args.text_encoder):
        if not path.exists():
            sys.exit(f"error: {path}: no such file or directory")
    if not (args.text_encoder / "config.json").is_file():
        sys.exit(f"error: {args.text_encoder}: no config.json (a Qwen2.5-VL transformers directory)")
    missing = [f for f in ("tokenizer.json", "tokenizer_config.json") if not (args.text_encoder / f).is_file()]
    if missing:
        sys.exit(f"error: {args.text_encoder}: missing {', '.join(missing)}")
    if args.out.exists():
        sys.exit(f"error: {args.out} already exists")

    work = args.out.with_name(f".{args.out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        component(args.dit, "cosmos_dit_pt_to_safetensors.py", work / "transformer", args.link)
        component(args.vae, "wan_vae_pth_to_safetensors.py", work / "vae", args.link)
        place(args.text_encoder, work / "text_encoder", args.link)
        (work / "tokenizer").mkdir()
        for name in TOKENIZER_FILES:
            if (args.text_encoder / name).is_file():
                shutil.copy2(args.text_encoder / name, work / "tokenizer" / name)
        (work / "scheduler").mkdir()
        scheduler = {"_class_name": "UniPCMultistepScheduler", **SCHEDULERS[args.variant]}
        (work / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler, indent=2) + "\n")
        index = {"_class_name": "Cosmos2_5_PredictBasePipeline",
                 "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
                 "tokenizer": ["transformers", "Qwen2Tokenizer"],
                 "transformer": ["diffusers", "CosmosTransformer3DModel"],
                 "vae": ["diffusers", "AutoencoderKLWan"],
                 "scheduler": ["diffusers", "UniPCMultistepScheduler"],
                 "safety_checker": [None, None]}
        (work / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        for root, dirs, files in os.walk(work):
            for name in files:
                path = pathlib.Path(root) / name
                if not path.is_symlink():
                    path.chmod(0o644)
        work.rename(args.out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    print(f"wrote {args.out} ({args.variant}); run: build/duogen video --model {args.out} --prompt ...")
    if args.variant == "pre-trained":
        print("the pre-trained DiT conditions frames at the step's own time: add --condition-timestep -1")


if __name__ == "__main__":
    main()
