#!/usr/bin/env python3
"""Goldens for reading a diffusers pipeline snapshot's scheduler and preprocessing its inputs:

    .venv/bin/python tools/reference/dump_diffusers_schedules.py --out-dir tests/data/reference

diffusers_schedules.json: for scheduler configs in the flow-matching mode the Cosmos-Predict2.5
pipelines use (the published Karras config and the shifted linear flow sigmas, other orders and
ranges), `UniPCMultistepScheduler(**config).set_timesteps(n)`'s float32 `sigmas` and int64
`timesteps` (sampling/flow/diffusers_scheduler.h must give the same values exactly).

pil_bilinear.safetensors: uint8 images and Pillow's `Image.resize((w, h), Image.BILINEAR)` of
them (up, down, mixed), which diffusers' VideoProcessor applies to PIL video frames
(image/resample.h must equal them bit for bit).
"""
import argparse
import json
import pathlib

import diffusers
import numpy as np
import PIL
import safetensors.torch
import torch
from diffusers import UniPCMultistepScheduler
from PIL import Image

PUBLISHED = {"use_karras_sigmas": True, "use_flow_sigmas": True, "prediction_type": "flow_prediction",
             "sigma_max": 200.0, "sigma_min": 0.01}
CASES = [
    ("published_36", PUBLISHED, 36),
    ("published_4", PUBLISHED, 4),
    ("published_2", PUBLISHED, 2),
    ("karras_range_order1", {**PUBLISHED, "sigma_max": 80.0, "sigma_min": 0.002, "solver_order": 1}, 12),
    ("karras_train500", {**PUBLISHED, "num_train_timesteps": 500}, 7),
    ("flow_shift1", {"use_flow_sigmas": True, "prediction_type": "flow_prediction"}, 10),
    ("flow_shift5", {"use_flow_sigmas": True, "prediction_type": "flow_prediction", "flow_shift": 5.0}, 35),
    ("flow_shift3_one_step", {"use_flow_sigmas": True, "prediction_type": "flow_prediction", "flow_shift": 3.0}, 1),
]


def schedules():
    out = []
    for name, config, steps in CASES:
        s = UniPCMultistepScheduler(**config)
        s.set_timesteps(steps)
        out.append({"name": name, "config": config, "num_inference_steps": steps,
                    "sigmas": [float(x) for x in s.sigmas.to(torch.float32)],
                    "timesteps": [int(x) for x in s.timesteps]})
    return out


def bilinear():
    rng = np.random.RandomState(5)
    tensors = {}
    base = rng.randint(0, 256, size=(37, 53, 3), dtype=np.uint8)
    # a smooth gradient plus noise, so every filter tap matters
    yy, xx = np.mgrid[0:37, 0:53]
    smooth = np.stack([xx * 4, yy * 6, (xx + yy) * 2], -1).clip(0, 255).astype(np.uint8)
    for label, img in (("noise", base), ("smooth", smooth)):
        tensors[f"{label}.input"] = torch.from_numpy(img.copy())
        for w, h in ((48, 32), (17, 11), (106, 74), (53, 20), (64, 40)):
            out = np.array(Image.fromarray(img).resize((w, h), resample=Image.BILINEAR))
            tensors[f"{label}.{h}x{w}"] = torch.from_numpy(out.copy())
    return tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=pathlib.Path, required=True)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"producer": f"diffusers {diffusers.__version__}, numpy {np.__version__}",
           "cases": schedules()}
    (args.out_dir / "diffusers_schedules.json").write_text(json.dumps(doc, indent=1) + "\n")
    safetensors.torch.save_file(bilinear(), str(args.out_dir / "pil_bilinear.safetensors"),
                                metadata={"producer": f"Pillow {PIL.__version__}"})
    print("wrote", args.out_dir / "diffusers_schedules.json", args.out_dir / "pil_bilinear.safetensors")


if __name__ == "__main__":
    main()
