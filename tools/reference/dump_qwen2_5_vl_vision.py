#!/usr/bin/env python3
"""Goldens for Qwen2.5-VL image preprocessing and the vision tower (architecture.md §3, §4):

    .venv/bin/python tools/reference/dump_qwen2_5_vl_vision.py --model tests/data/tiny-qwen2_5_vl \
        --images-dir tests/data/images/qwen2_5_vl --out-dir tests/data/reference

Writes
  images/qwen2_5_vl/*.{png,gif,bmp,jpg}  small project-generated inputs (RGB, RGBA, grey, palette)
  image_resample.safetensors       Pillow Image.resize(BICUBIC) on generated uint8 images:
                                   input.<case> [H, W, C] -> expected.<case> [h, w, C]
  qwen2_5_vl.image_processor.safetensors
                                   transformers Qwen2VLImageProcessorPil on the image files
                                   (pixel_values, image_grid_thw per case; case settings in the
                                   metadata), Pillow's decoding of the JPEG, smart_resize cases
  qwen2_5_vl.vision_layout.safetensors
                                   transformers' window index / cu_seqlens / position ids per grid
  qwen2_5_vl.vision.<case>.safetensors
                                   `duogen verify` dumps of model.visual (pixel_values,
                                   image_grid_thw -> vision_embeds)

The reference image processor is the PIL backend (`Qwen2VLImageProcessorPil`), constructed
explicitly: AutoImageProcessor in transformers 5.23 picks the torchvision backend whenever
torchvision is installed (it is not in this venv). That backend resizes uint8 CPU tensors with
torch's antialiased bicubic (torchvision `_do_native_uint8_resize_on_cpu` -> F.interpolate); the
script measures how far that is from Pillow and prints it (and stores it in the metadata).
"""
import argparse
import json
import pathlib

import numpy as np
import PIL
import safetensors.torch
import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.image_transforms import convert_to_rgb
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
    Qwen2VLImageProcessorPil,
    smart_resize,
)
from transformers.vision_utils import (
    get_vision_cu_seqlens,
    get_vision_position_ids,
    get_vision_window_index,
)

from reference_dump import write_dump

PRODUCER = (f"transformers {transformers.__version__}, torch {torch.__version__}, "
            f"pillow {PIL.__version__}")


def pattern(rng: np.random.Generator, h: int, w: int, channels: int) -> np.ndarray:
    """Smooth gradients and waves (compress well in PNG) with sharp edges and some noise, so that
    both the filter's smooth response and its overshoot/clipping are exercised."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        fy, fx, phase = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6), rng.uniform(0, 6)
        v = 127.5 + 90 * np.sin(fy * y + phase) * np.cos(fx * x) + 40 * (x / w - y / h)
        v[(x + 2 * y) % 17 < 3] = 255 if c % 2 else 0  # hard stripes: overshoot -> clip8
        v += rng.normal(0, 6, size=v.shape)
        planes.append(v)
    return np.clip(np.rint(np.stack(planes, -1)), 0, 255).astype(np.uint8)


def write_images(out: pathlib.Path, rng: np.random.Generator) -> dict[str, pathlib.Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    files["rgb"] = out / "rgb_45x61.png"
    Image.fromarray(pattern(rng, 45, 61, 3), "RGB").save(files["rgb"])
    rgba = pattern(rng, 70, 50, 4)
    rgba[:10, :, 3] = 0  # fully transparent rows: white after compositing
    files["rgba"] = out / "rgba_70x50.png"
    Image.fromarray(rgba, "RGBA").save(files["rgba"])
    files["grey"] = out / "grey_33x90.png"
    Image.fromarray(pattern(rng, 33, 90, 1)[:, :, 0], "L").save(files["grey"])
    files["grey_alpha"] = out / "grey_alpha_30x40.png"
    Image.fromarray(pattern(rng, 30, 40, 2), "LA").save(files["grey_alpha"])
    files["large"] = out / "large_150x130.png"
    Image.fromarray(pattern(rng, 150, 130, 3), "RGB").save(files["large"])
    # GIF: a palette image, two frames; readers must take the first.
    frames = [Image.fromarray(pattern(rng, 36, 52, 3), "RGB").quantize(colors=64, dither=0)
              for _ in range(2)]
    files["gif"] = out / "palette_36x52.gif"
    frames[0].save(files["gif"], save_all=True, append_images=frames[1:])
    files["bmp"] = out / "rgb_29x31.bmp"
    Image.fromarray(pattern(rng, 29, 31, 3), "RGB").save(files["bmp"])
    files["jpeg"] = out / "photo_48x64.jpg"
    Image.fromarray(pattern(rng, 48, 64, 3), "RGB").save(files["jpeg"], quality=90)
    return files


def load_rgb(path: pathlib.Path) -> Image.Image:
    """What transformers' PIL backend does to a file: first frame, transparency on white."""
    return Image.fromarray(convert_to_rgb(Image.open(path), return_numpy=True), "RGB")


RESAMPLE_CASES = {  # name: (in_h, in_w, channels, out_h, out_w)
    "down_61x45_to_28x20": (61, 45, 3, 28, 20),
    "up_20x17_to_57x43": (20, 17, 3, 57, 43),
    "mixed_40x90_to_77x31": (40, 90, 3, 77, 31),
    "down_big_factor_97x83_to_13x11": (97, 83, 3, 13, 11),
    "vertical_only_30x40_to_23x40": (30, 40, 3, 23, 40),
    "horizontal_only_30x40_to_30x55": (30, 40, 3, 30, 55),
    "grey_35x27_to_56x28": (35, 27, 1, 56, 28),
    "thin_1x30_to_5x7": (1, 30, 3, 5, 7),
}


def dump_resample(path: pathlib.Path, rng: np.random.Generator) -> None:
    tensors = {}
    for name, (h, w, c, oh, ow) in RESAMPLE_CASES.items():
        src = pattern(rng, h, w, c)
        img = Image.fromarray(src[:, :, 0] if c == 1 else src, "L" if c == 1 else "RGB")
        out = np.asarray(img.resize((ow, oh), Image.BICUBIC)).reshape(oh, ow, c)
        tensors[f"input.{name}"] = torch.from_numpy(src.copy())
        tensors[f"expected.{name}"] = torch.from_numpy(out.copy())
    safetensors.torch.save_file(tensors, str(path), metadata={"producer": PRODUCER})
    print(f"wrote {path}")


def torch_aa_bicubic(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    """The torchvision backend's resize on a uint8 CPU image (F.interpolate, native uint8)."""
    x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()
    y = F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y[0].permute(1, 2, 0).numpy()


# Processor cases: the files, the processor settings, and DuoGen's max-side cap (0 = off).
PROCESSOR_CASES = {
    "default": dict(files=["rgb", "grey", "gif", "bmp", "grey_alpha"], min_pixels=56 * 56,
                    max_pixels=28 * 28 * 1280, max_side=0),
    "max_pixels": dict(files=["large", "rgba"], min_pixels=56 * 56, max_pixels=28 * 28 * 8,
                       max_side=0),
    "max_side_cap": dict(files=["large", "rgb"], min_pixels=56 * 56, max_pixels=28 * 28 * 1280,
                         max_side=64),
}


def capped(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    h, w = size
    if max_side <= 0 or max(h, w) <= max_side:
        return h, w
    long_side = max(h, w)
    scale = lambda s: max_side if s == long_side else max(1, round(s * max_side / long_side))
    return scale(h), scale(w)


def dump_processor(path: pathlib.Path, files: dict[str, pathlib.Path], data_root: pathlib.Path):
    tensors, cases, deviation = {}, {}, {"max_level_diff": 0, "max_pixel_values_diff": 0.0}
    for name, case in PROCESSOR_CASES.items():
        proc = Qwen2VLImageProcessorPil(min_pixels=case["min_pixels"], max_pixels=case["max_pixels"])
        images = []
        for key in case["files"]:
            img = load_rgb(files[key])
            h, w = capped((img.height, img.width), case["max_side"])
            if (h, w) != (img.height, img.width):
                img = img.resize((w, h), Image.BICUBIC)  # the DuoGen cap, before the processor
            images.append(img)
            # How far the torchvision backend's resize is from Pillow's, on the same input.
            th, tw = smart_resize(img.height, img.width, 28, case["min_pixels"], case["max_pixels"])
            pil = np.asarray(img.resize((tw, th), Image.BICUBIC)).astype(np.int32)
            tv = torch_aa_bicubic(np.array(img), th, tw).astype(np.int32)
            level = int(np.abs(pil - tv).max())
            deviation["max_level_diff"] = max(deviation["max_level_diff"], level)
            std = np.array(proc.image_std, dtype=np.float64)
            deviation["max_pixel_values_diff"] = max(deviation["max_pixel_values_diff"],
                                                     float(level / 255 / std.min()))
        out = proc(images=images, return_tensors="pt")
        # [N, 1176] = [N, C, T=2, 14, 14] with both frames equal: keep frame 0 (halves the file);
        # the test checks that duogen repeats it.
        patches = out["pixel_values"].float().view(-1, 3, 2, 14, 14)
        assert torch.equal(patches[:, :, 0], patches[:, :, 1])
        tensors[f"{name}.pixel_values_frame0"] = patches[:, :, 0].contiguous()
        tensors[f"{name}.image_grid_thw"] = out["image_grid_thw"].long()
        cases[name] = dict(case, files=[str(files[k].relative_to(data_root)) for k in case["files"]])
    # Pillow's (libjpeg's) decoding of the JPEG, to bound stb_image's difference.
    tensors["jpeg.pillow_rgb"] = torch.from_numpy(np.asarray(load_rgb(files["jpeg"])).copy())
    # smart_resize on edge cases: Python round() ties, both rescaling branches, tiny inputs.
    sizes = [(70, 70), (42, 98), (14, 14), (5, 5), (28, 5000), (480, 360), (768, 768),
             (1080, 1920), (4000, 3000), (99, 250), (126, 182), (3, 500)]
    limits = [(56 * 56, 28 * 28 * 1280), (56 * 56, 12845056), (56 * 56, 28 * 28 * 8)]
    rows, expected = [], []
    for (h, w) in sizes:
        for (lo, hi) in limits:
            rows.append([h, w, lo, hi])
            expected.append(list(smart_resize(h, w, 28, lo, hi)))
    tensors["smart_resize.inputs"] = torch.tensor(rows, dtype=torch.int64)
    tensors["smart_resize.expected"] = torch.tensor(expected, dtype=torch.int64)
    metadata = {"producer": PRODUCER, "cases": json.dumps(cases),
                "torchvision_backend_deviation": json.dumps(deviation)}
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)
    print(f"wrote {path}; torchvision-backend resize vs Pillow: {deviation}")


LAYOUT_GRIDS = {  # merged grids that are / are not multiples of the 4x4 window, video frames
    "single_4x6": [[1, 8, 12]],
    "multiple_of_window_8x8": [[1, 16, 16]],
    "two_images": [[1, 6, 10], [1, 16, 16]],
    "tiny_1x1": [[1, 2, 2]],
    "frames_2": [[2, 10, 6], [1, 4, 4]],
    "wide_3x13": [[1, 6, 26]],
}


def dump_layout(path: pathlib.Path) -> None:
    tensors = {}
    for name, grid in LAYOUT_GRIDS.items():
        g = torch.tensor(grid, dtype=torch.int64)
        window_index, cu_window = get_vision_window_index(g, spatial_merge_size=2, window_size=112,
                                                          patch_size=14)
        tensors[f"{name}.grid_thw"] = g
        tensors[f"{name}.window_index"] = window_index.long()
        tensors[f"{name}.cu_window_seqlens"] = cu_window.long()
        tensors[f"{name}.cu_seqlens"] = get_vision_cu_seqlens(g).long()
        tensors[f"{name}.positions"] = get_vision_position_ids(g, 2).long()
    safetensors.torch.save_file(tensors, str(path), metadata={"producer": PRODUCER})
    print(f"wrote {path}")


# Vision tower cases. Inputs are stored in bfloat16 (exactly representable values; the tower
# casts them to the weights' dtype first, as transformers does) to keep the files small.
VISION_CASES = {  # name: (grids, dtype)
    "one_image": ([[1, 6, 10]], torch.float32),         # merged 3x5: not whole windows
    "two_images": ([[1, 8, 8], [1, 4, 12]], torch.float32),  # 4x4 (whole) and 2x6 (partial)
    "one_image_bf16": ([[1, 6, 10]], torch.bfloat16),
}
# fp32 on CPU: duogen's patch embedding is a matmul where transformers runs Conv3d, and the
# attention/norm reductions may be ordered differently; measured ~8e-7 relative.
RTOL_FP32, REASON_FP32 = 1e-5, "fp32 CPU: matmul vs Conv3d patch embedding, reduction order"
# bf16: every op rounds to bf16 (8 mantissa bits), ~2^-8 relative per op wherever the op order
# differs (other hardware, fused kernels). On CPU duogen runs the same bf16 ATen kernels and
# measures 0; tests/models/qwen2_5_vl_vision_test.cpp holds it to 1e-3 there.
RTOL_BF16, REASON_BF16 = 1e-2, "bf16 compute: per-op rounding in a different order"


def dump_vision(model_dir: pathlib.Path, out_dir: pathlib.Path) -> None:
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(7)
    for name, (grid, dtype) in VISION_CASES.items():
        grid_thw = torch.tensor(grid, dtype=torch.int64)
        n = int(grid_thw.prod(-1).sum())
        pixel_values = torch.randn(n, 3 * 2 * 14 * 14, generator=g).to(torch.bfloat16)
        visual = model.model.visual.to(dtype)
        with torch.no_grad():
            embeds = visual(pixel_values.to(dtype), grid_thw=grid_thw).pooler_output
        fp32 = dtype == torch.float32
        write_dump(out_dir / f"qwen2_5_vl.vision.{name}.safetensors", "qwen2_5_vl.vision",
                   {"pixel_values": pixel_values, "image_grid_thw": grid_thw},
                   {"vision_embeds": embeds}, dtype="float32" if fp32 else "bfloat16",
                   rtol=RTOL_FP32 if fp32 else RTOL_BF16,
                   rtol_reason=REASON_FP32 if fp32 else REASON_BF16, producer=PRODUCER)
    model.model.visual.to(torch.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--images-dir", type=pathlib.Path, required=True)
    parser.add_argument("--out-dir", type=pathlib.Path, required=True)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2025)
    files = write_images(args.images_dir, rng)
    dump_resample(args.out_dir / "image_resample.safetensors", rng)
    dump_processor(args.out_dir / "qwen2_5_vl.image_processor.safetensors", files,
                   args.images_dir.parent)
    dump_layout(args.out_dir / "qwen2_5_vl.vision_layout.safetensors")
    dump_vision(args.model, args.out_dir)


if __name__ == "__main__":
    main()
