#!/usr/bin/env python3
"""Draws the images of the sample suites in benchmarks/ (the project's own, no outside data).

Cooking: a plate seen from above with the dish's colours; edits: simple scenes (a sun, a house,
a tree, a ball) to ask edits about. Pure standard library (zlib PNG writer), deterministic:
running it again gives identical files.

    python3 benchmarks/make_sample_images.py
"""
import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 96


def write_png(path, pixels, w, h):
    raw = b"".join(b"\x00" + bytes(pixels[y * w * 3:(y + 1) * w * 3]) for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)


class Canvas:
    def __init__(self, background):
        self.px = bytearray(background * (SIZE * SIZE))

    def disc(self, cx, cy, r, colour):
        for y in range(max(0, int(cy - r)), min(SIZE, int(cy + r) + 1)):
            for x in range(max(0, int(cx - r)), min(SIZE, int(cx + r) + 1)):
                if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    self.px[(y * SIZE + x) * 3:(y * SIZE + x) * 3 + 3] = bytes(colour)

    def rect(self, x0, y0, x1, y1, colour):
        for y in range(max(0, y0), min(SIZE, y1)):
            for x in range(max(0, x0), min(SIZE, x1)):
                self.px[(y * SIZE + x) * 3:(y * SIZE + x) * 3 + 3] = bytes(colour)

    def save(self, path):
        write_png(path, self.px, SIZE, SIZE)


# dish id -> (sauce/base colour, topping colours)
DISHES = {
    "tomato-pasta": ((200, 60, 40), [(240, 210, 120), (60, 140, 60)]),
    "green-curry": ((120, 170, 70), [(250, 250, 240), (200, 80, 60)]),
    "pancakes": ((220, 170, 90), [(120, 60, 140), (250, 250, 250)]),
    "fried-rice": ((230, 200, 120), [(240, 120, 40), (90, 160, 70)]),
    "beef-stew": ((110, 60, 30), [(230, 130, 40), (200, 180, 140)]),
    "caesar-salad": ((120, 190, 90), [(240, 230, 200), (210, 170, 100)]),
    "miso-soup": ((200, 160, 100), [(250, 250, 245), (40, 90, 50)]),
    "margherita-pizza": ((230, 190, 110), [(210, 50, 40), (250, 250, 240)]),
    "shakshuka": ((190, 50, 30), [(255, 250, 235), (250, 200, 40)]),
    "chocolate-cake": ((80, 45, 25), [(240, 220, 230), (180, 30, 60)]),
    "pad-thai": ((220, 150, 80), [(250, 240, 200), (90, 160, 70)]),
    "guacamole": ((130, 170, 60), [(220, 60, 50), (250, 250, 240)]),
}


def dish_image(base, toppings, seed):
    c = Canvas((235, 225, 205))  # a wooden table
    c.disc(48, 48, 42, (250, 250, 250))  # plate
    c.disc(48, 48, 30, base)
    for i, colour in enumerate(toppings):
        for k in range(5):
            a = (seed * 37 + i * 71 + k * 72) * math.pi / 180
            c.disc(48 + 17 * math.cos(a), 48 + 17 * math.sin(a), 5 - i, colour)
    return c


SCENES = {
    "sunny-field": lambda c: (c.rect(0, 60, 96, 96, (90, 170, 70)), c.disc(70, 22, 12, (250, 210, 40))),
    "red-house": lambda c: (c.rect(0, 70, 96, 96, (100, 160, 80)), c.rect(25, 40, 70, 75, (190, 50, 40)),
                            c.rect(42, 55, 53, 75, (90, 60, 40))),
    "green-tree": lambda c: (c.rect(0, 75, 96, 96, (110, 170, 80)), c.rect(44, 50, 52, 80, (110, 70, 40)),
                             c.disc(48, 40, 20, (40, 130, 50))),
    "blue-ball": lambda c: (c.rect(0, 65, 96, 96, (200, 190, 170)), c.disc(48, 52, 18, (40, 80, 200))),
    "night-sky": lambda c: (c.disc(25, 25, 9, (240, 240, 220)), c.rect(0, 80, 96, 96, (30, 40, 30))),
    "cat-shape": lambda c: (c.disc(48, 58, 20, (120, 120, 120)), c.disc(48, 32, 13, (120, 120, 120)),
                            c.disc(43, 30, 2, (20, 20, 20)), c.disc(53, 30, 2, (20, 20, 20))),
}
SKIES = {"night-sky": (20, 25, 60), "blue-ball": (230, 230, 225), "cat-shape": (220, 230, 240)}


def main():
    for n, (dish, (base, toppings)) in enumerate(sorted(DISHES.items())):
        dish_image(base, toppings, n).save(HERE / "cooking" / "images" / f"{dish}.png")
    for name, draw in sorted(SCENES.items()):
        c = Canvas(SKIES.get(name, (150, 200, 240)))
        draw(c)
        c.save(HERE / "edit" / "images" / f"{name}.png")


if __name__ == "__main__":
    main()
