"""The shapes world: pictures of a few flat shapes on white, the templated language about them,
and the tasks the demo model is trained and scored on. Deterministic given a seed.

A scene is up to three objects, one per slot (left, middle, right), each a shape in a colour.
Every picture is drawn from its scene alone, so a scorer can read the scene back from pixels
(src/bench/shapes_score.cpp does, with the constants below)."""
from __future__ import annotations

import dataclasses
import random

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 190, 20)}
SLOTS = ("left", "middle", "right")
# Slot centres as fractions of the width; objects sit on the horizontal centre line.
SLOT_X = {"left": 0.2, "middle": 0.5, "right": 0.8}
# An object's bounding box side as a fraction of min(width, height).
OBJECT_SIZE = 0.24
BACKGROUND = (255, 255, 255)
# The sizes pictures come in; 64x64 is what the model draws, the others appear as references.
SIZES = ((64, 64), (96, 64), (64, 96), (80, 80), (48, 48))


@dataclasses.dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    slot: str

    def phrase(self) -> str:
        where = "in the middle" if self.slot == "middle" else f"on the {self.slot}"
        return f"a {self.colour} {self.shape} {where}"


Scene = tuple  # of Obj, sorted by slot


def sort_scene(objs) -> Scene:
    return tuple(sorted(objs, key=lambda o: SLOTS.index(o.slot)))


def describe(scene: Scene) -> str:
    if not scene:
        return "nothing"
    parts = [o.phrase() for o in scene]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def render(scene: Scene, width: int = 64, height: int = 64) -> Image.Image:
    img = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(img)
    side = OBJECT_SIZE * min(width, height)
    for o in scene:
        cx, cy = SLOT_X[o.slot] * width, 0.5 * height
        x0, y0, x1, y1 = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2
        c = COLOURS[o.colour]
        if o.shape == "circle":
            d.ellipse([x0, y0, x1, y1], fill=c)
        elif o.shape == "square":
            d.rectangle([x0, y0, x1, y1], fill=c)
        else:
            d.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=c)
    return img


def random_obj(rng: random.Random, slot: str) -> Obj:
    return Obj(rng.choice(SHAPES), rng.choice(list(COLOURS)), slot)


def random_scene(rng: random.Random, n: int) -> Scene:
    return sort_scene(random_obj(rng, s) for s in rng.sample(SLOTS, n))


# ---- tasks --------------------------------------------------------------------------------
# A task is a conversation: the user turn (images then text, as duogen renders a job) and the
# assistant's answer as parts: text, or an image (a scene to draw at 64x64).

@dataclasses.dataclass
class Task:
    kind: str                    # t2i | edit | compose | steps | describe
    user_images: list            # [(scene, (w, h))]
    user_text: str
    answer: list                 # [("text", str) | ("image", scene)]
    target: Scene | None = None  # the scene the (last) image must show


def t2i_prompt(rng: random.Random, scene: Scene) -> str:
    d = describe(scene)
    return rng.choice([f"Draw {d}.", f"Draw {d}.", f"A picture of {d}.", d])


def task_t2i(rng: random.Random) -> Task:
    scene = random_scene(rng, rng.choice((1, 1, 2, 3)))
    return Task("t2i", [], t2i_prompt(rng, scene), [("image", scene)], scene)


def edit_instruction(rng: random.Random, scene: Scene):
    """One edit of `scene`: (instruction, edited scene)."""
    free = [s for s in SLOTS if s not in {o.slot for o in scene}]
    ops = ["recolour", "reshape"] + (["add", "move"] if free else []) + (["remove"] if len(scene) > 1 else [])
    op = rng.choice(ops)
    i = rng.randrange(len(scene))
    o = scene[i]
    others = scene[:i] + scene[i + 1:]
    # Objects are named by shape and colour; the slot is added so the reference is unique.
    name = f"the {o.colour} {o.shape}"
    if op == "recolour":
        c = rng.choice([c for c in COLOURS if c != o.colour])
        return f"Make {name} {c}.", sort_scene(others + (Obj(o.shape, c, o.slot),))
    if op == "reshape":
        s = rng.choice([s for s in SHAPES if s != o.shape])
        return f"Turn {name} into a {s}.", sort_scene(others + (Obj(s, o.colour, o.slot),))
    if op == "remove":
        return f"Remove {name}.", sort_scene(others)
    slot = rng.choice(free)
    where = "in the middle" if slot == "middle" else f"on the {slot}"
    if op == "move":
        return f"Move {name} to the {slot}.", sort_scene(others + (Obj(o.shape, o.colour, slot),))
    new = random_obj(rng, slot)
    return f"Add a {new.colour} {new.shape} {where}.", sort_scene(scene + (new,))


def reference_size(rng: random.Random):
    return (64, 64) if rng.random() < 0.6 else rng.choice(SIZES[1:])


def task_edit(rng: random.Random) -> Task:
    scene = random_scene(rng, rng.choice((1, 2, 2, 3)))
    text, out = edit_instruction(rng, scene)
    return Task("edit", [(scene, reference_size(rng))], text, [("image", out)], out)


def task_compose(rng: random.Random) -> Task:
    """Two references: the first picture's object put into the second picture."""
    second = random_scene(rng, rng.choice((1, 2)))
    free = [s for s in SLOTS if s not in {o.slot for o in second}]
    first = (random_obj(rng, rng.choice(free)),)
    out = sort_scene(second + first)
    text = rng.choice(["Put the shape of the first picture into the second.",
                       "Add the object of picture 1 to picture 2."])
    return Task("compose", [(first, reference_size(rng)), (second, reference_size(rng))], text,
                [("image", out)], out)


def task_steps(rng: random.Random) -> Task:
    """Step by step: each step adds one object and shows the picture so far."""
    scene = random_scene(rng, rng.choice((2, 3)))
    order = list(scene)
    rng.shuffle(order)
    answer, so_far = [], ()
    for k, o in enumerate(order, 1):
        so_far = sort_scene(so_far + (o,))
        verb = "Draw" if k == 1 else "Add"
        answer += [("text", f"Step {k}: {verb} {o.phrase()}."), ("image", so_far)]
    text = f"Draw it step by step: {describe(tuple(order))}."
    return Task("steps", [], text, answer, scene)


def task_describe(rng: random.Random) -> Task:
    scene = random_scene(rng, rng.choice((1, 2, 3)))
    q = rng.choice(["What is in the picture?", "Describe the picture."])
    return Task("describe", [(scene, reference_size(rng))], q, [("text", describe(scene) + ".")], scene)


TASKS = {"t2i": task_t2i, "edit": task_edit, "compose": task_compose, "steps": task_steps,
         "describe": task_describe}


def corpus(rng: random.Random, n: int):
    """Text the tokenizer is trained on: every kind of sentence the tasks use."""
    for _ in range(n):
        t = rng.choice(list(TASKS.values()))(rng)
        yield t.user_text
        for kind, v in t.answer:
            if kind == "text":
                yield v
