#!/usr/bin/env python3
"""The original-format converters (tools/convert/*.py) on tiny checkpoints written the way the real
releases are, read back by duogen (run by ctest as `convert.converters`):

    .venv/bin/python tests/convert/converters_test.py --duogen build/duogen

- Cosmos DiT `.pt`: the tiny original-layout DiT as Cosmos saves it: nested under "model",
  `net.` prefix, Transformer Engine `_extra_state` as pickled io.BytesIO objects (which
  torch.load(weights_only=True) alone rejects), `accum_*` counters and `pos_embedder.*` buffers.
- Wan VAE `.pth`: the tiny original-layout VAE nested under "state_dict" with a "vae." prefix.
For each: the converter succeeds with weights_only semantics; both output files are mode 0644
(under umask 022); config.json has only keys diffusers' class accepts and from_config builds the
model from it; `duogen verify` on the output passes the diffusers goldens of the tiny models.
Also: a pickle that would run code is refused without running it, naming --trust-pickle.
Exit 0 = pass, 1 = failure, 77 = skipped (no torch/diffusers in this Python).
"""
import argparse
import io
import json
import os
import pathlib
import stat
import subprocess
import sys
import tempfile

try:
    import safetensors.torch
    import torch
    from diffusers import AutoencoderKLWan, CosmosTransformer3DModel
except ImportError as e:  # the reference stack is not installed: nothing to test against
    print(f"skipped: {e}")
    sys.exit(77)

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests/data"
CONVERT = ROOT / "tools/convert"
FAILURES = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else "\n" + detail))
    if not cond:
        FAILURES.append(what)


def te_extra_state() -> io.BytesIO:
    """What Transformer Engine's get_extra_state() returns: a torch.save'd dict in a BytesIO."""
    buf = io.BytesIO()
    torch.save({"recipe": None, "scale_fwd": torch.ones(3), "amax_history_fwd": torch.zeros(4, 3)}, buf)
    buf.seek(0)
    return buf


def run(args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)


def check_outputs(out: pathlib.Path, cls, expected_config: dict, name: str):
    for f in ("model.safetensors", "config.json"):
        mode = stat.S_IMODE((out / f).stat().st_mode)
        check(mode == 0o644, f"{name}: {f} mode {oct(mode)} == 0o644")
    config = json.loads((out / "config.json").read_text())
    check(config == expected_config, f"{name}: config.json equals the expected one")
    _, unused, _ = cls.extract_init_dict(dict(config))
    unused = sorted(k for k in unused if not k.startswith("_"))
    check(not unused, f"{name}: every config.json key is a {cls.__name__} argument (extra: {unused})")
    model = cls.from_config(config)
    check(isinstance(model, cls), f"{name}: {cls.__name__}.from_config(config.json) builds the model")


def verify(duogen, out, dump, name):
    r = run([duogen, "verify", "--model", out, "--reference", DATA / "reference" / dump])
    check(r.returncode == 0, f"{name}: duogen verify {dump} passes", r.stdout[-600:] + r.stderr[-600:])


def dit_case(duogen, tmp: pathlib.Path):
    src = DATA / "tiny-cosmos_dit-original"
    sd = safetensors.torch.load_file(str(src / "model.safetensors"))
    net = {"net." + k: v for k, v in sd.items()}
    net.update({"net.accum_video_sample_counter": torch.tensor(7), "net.accum_iteration": torch.tensor(3),
                "net.pos_embedder.seq": torch.arange(120.0),
                "net.pos_embedder.dim_spatial_range": torch.arange(0, 4, 2) / 4.0,
                "net.blocks.0.self_attn._extra_state": te_extra_state(),
                "net.blocks.0.mlp._extra_state": te_extra_state(),
                "net.blocks.1.cross_attn._extra_state": None})
    pt = tmp / "tiny_ema_bf16.pt"
    torch.save({"model": net}, pt)
    try:
        torch.load(pt, weights_only=True)
        rejected = False
    except Exception:  # noqa: BLE001 - what matters is that plain weights_only refuses it
        rejected = True
    check(rejected, "dit: plain torch.load(weights_only=True) rejects the TE io.BytesIO entries")
    out = tmp / "dit"
    r = run([sys.executable, CONVERT / "cosmos_dit_pt_to_safetensors.py", pt, out])
    check(r.returncode == 0, "dit: converter succeeds", r.stdout + r.stderr)
    if r.returncode != 0:
        return
    expected = json.loads((src / "config.json").read_text())
    expected.pop("qk_norm_eps", None)  # a duogen key older converters wrote
    check_outputs(out, CosmosTransformer3DModel, expected, "dit")
    written = safetensors.torch.load_file(str(out / "model.safetensors"))
    check(set(written) == set(sd) and all(torch.equal(written[k], sd[k]) for k in sd),
          "dit: exactly the parameters, unchanged, 'net.' stripped")
    verify(duogen, out, "cosmos_dit.t2i.safetensors", "dit")


def vae_case(duogen, tmp: pathlib.Path):
    src = DATA / "tiny-wan_vae"
    sd = safetensors.torch.load_file(str(src / "model.safetensors"))
    pth = tmp / "Wan2.1_VAE.pth"
    torch.save({"state_dict": {"vae." + k: v for k, v in sd.items()}}, pth)
    out = tmp / "vae"
    r = run([sys.executable, CONVERT / "wan_vae_pth_to_safetensors.py", pth, out])
    check(r.returncode == 0, "vae: converter succeeds", r.stdout + r.stderr)
    if r.returncode != 0:
        return
    check_outputs(out, AutoencoderKLWan, json.loads((src / "config.json").read_text()), "vae")
    verify(duogen, out, "wan_vae.decode.image.safetensors", "vae")
    verify(duogen, out, "wan_vae.encode.image.safetensors", "vae")


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def refuses_code(tmp: pathlib.Path):
    marker = tmp / "pwned"
    pt = tmp / "evil.pt"
    torch.save({"model": {"net.x_embedder.proj.1.weight": torch.zeros(2, 2), "x": RunsCode(marker)}}, pt)
    r = run([sys.executable, CONVERT / "cosmos_dit_pt_to_safetensors.py", pt, tmp / "evil"])
    check(r.returncode != 0 and "--trust-pickle" in r.stderr and "posix.system" in r.stderr
          and not marker.exists(), "a pickle that runs code is refused unrun, naming the global and "
          "--trust-pickle", r.stderr[-400:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duogen", type=pathlib.Path, required=True)
    args = parser.parse_args()
    os.umask(0o022)
    with tempfile.TemporaryDirectory(prefix="duogen-convert-") as tmp:
        tmp = pathlib.Path(tmp)
        dit_case(args.duogen, tmp)
        vae_case(args.duogen, tmp)
        refuses_code(tmp)
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
