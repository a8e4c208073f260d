#!/usr/bin/env python3
"""Draws a job's answer (duogen generate's result.json and PNGs) as one picture: each image
enlarged 4x (nearest) with the text before it underneath, for the README.

    .venv/bin/python tools/demo_model/compose_answer.py build/quickstart/shapes-steps docs/images/demo-steps.png
"""
import json
import pathlib
import sys

from PIL import Image, ImageDraw

SCALE, PAD, TEXT_H = 4, 12, 34


def main() -> None:
    job_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    result = json.loads((job_dir / "result.json").read_text())
    panels, text = [], ""
    for seg in result["output"]:
        if seg["type"] == "text":
            text += seg["text"]
        else:
            img = Image.open(job_dir / seg["path"]).convert("RGB")
            panels.append((img.resize((img.width * SCALE, img.height * SCALE), Image.NEAREST), text.strip()))
            text = ""
    w = sum(p.width for p, _ in panels) + PAD * (len(panels) + 1)
    h = max(p.height for p, _ in panels) + 2 * PAD + TEXT_H
    sheet = Image.new("RGB", (w, h), (240, 240, 240))
    draw = ImageDraw.Draw(sheet)
    x = PAD
    for img, caption in panels:
        sheet.paste(img, (x, PAD))
        words, lines = caption.split(), [""]
        for word in words:  # wrap to the panel's width
            if draw.textlength(lines[-1] + " " + word) > img.width and lines[-1]:
                lines.append(word)
            else:
                lines[-1] = (lines[-1] + " " + word).strip()
        draw.multiline_text((x, PAD + img.height + 4), "\n".join(lines), fill=(20, 20, 20))
        x += img.width + PAD
    sheet.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
