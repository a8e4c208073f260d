#!/usr/bin/env python3
"""Writes the shapes benchmark suite (a generic duogen suite, docs/benchmarks.md) and the scorer's
ground-truth pictures, both from world.py, deterministically:

    .venv/bin/python tools/demo_model/make_shapes_suite.py --suite benchmarks/shapes \
        --truth tests/data/shapes

Suite items carry what the scorer needs in "metadata": the kind of task, the target scene (the
objects the answer's picture must show), the input scenes and, for step-by-step items, the scene
after every step. `duogen bench shapes --run DIR` scores a run of it."""
import argparse
import json
import pathlib
import random

import world


def objects(scene):
    return [{"shape": o.shape, "colour": o.colour, "slot": o.slot} for o in scene]


def suite_items(rng, per_kind):
    items = []
    for kind in ("t2i", "edit", "compose", "steps", "describe"):
        for n in range(per_kind):
            task = world.TASKS[kind](rng)
            item_id = f"{kind}-{n:03d}"
            images, refs = [], []
            for k, (scene, size) in enumerate(task.user_images):
                name = f"images/{item_id}-{k + 1}.png"
                images.append((name, world.render(scene, *size)))
                refs.append(objects(scene))
            meta = {"world": "shapes", "kind": kind, "target": objects(task.target)}
            if refs:
                meta["references"] = refs
            if kind == "steps":
                meta["steps"] = [objects(v) for t, v in task.answer if t == "image"]
            line = {"id": item_id, "text": task.user_text, "category": kind, "metadata": meta,
                    "task": {"t2i": "t2i", "edit": "edit", "compose": "edit"}.get(kind, "interleaved")}
            if images:
                line["images"] = [name for name, _ in images]
            if kind == "describe":
                line["options"] = {"max_images": 0}
            items.append((line, images))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=pathlib.Path, required=True)
    parser.add_argument("--truth", type=pathlib.Path)
    parser.add_argument("--per-kind", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)  # training uses 2026 and up
    args = parser.parse_args()
    rng = random.Random(args.seed)
    (args.suite / "images").mkdir(parents=True, exist_ok=True)
    with open(args.suite / "shapes.jsonl", "w") as f:
        for line, images in suite_items(rng, args.per_kind):
            f.write(json.dumps(line) + "\n")
            for name, img in images:
                img.save(args.suite / name)
    if args.truth:
        # Every object in every slot at every size, plus random full scenes.
        args.truth.mkdir(parents=True, exist_ok=True)
        with open(args.truth / "truth.jsonl", "w") as f:
            n = 0
            scenes = [(world.Obj(s, c, p),) for s in world.SHAPES for c in world.COLOURS for p in world.SLOTS]
            scenes += [world.random_scene(rng, rng.choice((2, 3))) for _ in range(24)] + [()]
            for scene in scenes:
                size = world.SIZES[n % len(world.SIZES)]
                name = f"truth-{n:03d}.png"
                world.render(scene, *size).save(args.truth / name)
                f.write(json.dumps({"image": name, "objects": objects(scene),
                                    "text": world.describe(scene)}) + "\n")
                n += 1


if __name__ == "__main__":
    main()
