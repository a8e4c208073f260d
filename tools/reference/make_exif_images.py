#!/usr/bin/env python3
"""Writes EXIF-oriented test images and what Pillow makes of them (io/exif.h):

    .venv/bin/python tools/reference/make_exif_images.py --images-dir tests/data/images/exif \\
        --out tests/data/reference/exif_orientation.safetensors

Images: a 6x4 RGB pattern saved as PNG with an eXIf chunk for each orientation 1..8, the same as
JPEG with an APP1 Exif segment (orientations 3, 6 and 8), a JPEG whose EXIF block is big-endian
("MM", written by hand: Pillow writes "II"). (A truncated EXIF block makes Pillow raise
struct.error; duogen ignores it, tested without a golden.)
Expected: `PIL.ImageOps.exif_transpose(Image.open(f)).convert("RGB")`, the step transformers'
and diffusers' load_image take, as uint8 [H, W, 3] under the file's name.
"""
import argparse
import io
import pathlib
import struct

import numpy as np
import PIL
import safetensors.numpy
from PIL import Image, ImageOps


def pattern() -> Image.Image:
    # Smooth enough for JPEG to keep (stb and libjpeg differ by a few levels), asymmetric enough
    # that every orientation gives different pixels.
    y, x = np.mgrid[0:4, 0:6]
    rgb = np.stack([x * 40 + 20, y * 60 + 10, (x * y) * 12 + 30], -1).astype(np.uint8)
    return Image.fromarray(rgb)


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def big_endian_exif(orientation: int) -> bytes:
    # "Exif\0\0" + TIFF header (MM, 42, IFD0 at 8) + one entry (tag 0x0112, SHORT, count 1).
    tiff = b"MM" + struct.pack(">HI", 42, 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    return b"Exif\x00\x00" + tiff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-dir", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    args.images_dir.mkdir(parents=True, exist_ok=True)
    image = pattern()
    files = {}
    for o in range(1, 9):
        files[f"orient-{o}.png"] = lambda f, o=o: image.save(f, "PNG", exif=exif_bytes(o))
    for o in (3, 6, 8):
        files[f"orient-{o}.jpg"] = lambda f, o=o: image.save(f, "JPEG", quality=95, exif=exif_bytes(o))
    files["orient-6-mm.jpg"] = lambda f: image.save(f, "JPEG", quality=95, exif=big_endian_exif(6))
    expected = {}
    for name, save in files.items():
        buffer = io.BytesIO()
        save(buffer)
        (args.images_dir / name).write_bytes(buffer.getvalue())
        with Image.open(args.images_dir / name) as im:
            expected[name] = np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    safetensors.numpy.save_file(expected, str(args.out), metadata={"producer": f"Pillow {PIL.__version__}"})
    print(f"wrote {len(files)} images to {args.images_dir} and {args.out}")


if __name__ == "__main__":
    main()
