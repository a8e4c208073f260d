#!/usr/bin/env python3
"""Trains the shapes demo model (tools/demo_model/README.md) with the reference implementations
the project pins, and writes it in the layout duogen loads:

    .venv/bin/python tools/demo_model/make_demo_model.py --out models/shapes-demo

Stages (each deterministic given --seed; torch on CPU):
  tokenizer  byte-level BPE (HF tokenizers) on the world's language, Qwen's pre-tokenizer, the
             Qwen special tokens and <BOV>
  vae        diffusers AutoencoderKLWan on rendered pictures (L1 + MSE, a light pull of the
             posterior mean towards 0); latents_mean/std measured on the training pictures
  mllm       transformers Qwen2_5_VLForConditionalGeneration on the five tasks (next-token loss
             on the assistant's tokens, image spans excluded)
  dit        diffusers CosmosTransformer3DModel + connector on the frozen MLLM's all-layer hidden
             states before <BOV>, earlier images as clean condition frames (duogen's packed
             frames), flow matching (v = noise - x0), the text-chunk-dropped negative context in
             place of the positive one with probability 0.15 (classifier-free guidance)
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import random
import sys
import time

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "reference"))
import world  # noqa: E402

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>", "<BOV>"]
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
Z_DIM = 8
# Condition frames are clean: they get this network time (duogen.json "condition_timestep").
CONDITION_T = 1e-4
SHIFT = 3.0       # the timestep shift, training and duogen.json "shift"
P_UNCOND = 0.15   # probability of training on the negative context


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def save_json(path: pathlib.Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


# ---- tokenizer ------------------------------------------------------------------------------

def train_tokenizer(out: pathlib.Path, qwen_tokenizer: pathlib.Path, seed: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    qwen = Tokenizer.from_file(str(qwen_tokenizer / "tokenizer.json"))
    tok = Tokenizer(models.BPE())
    tok.normalizer = qwen.normalizer
    tok.pre_tokenizer = qwen.pre_tokenizer
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=384, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    rng = random.Random(seed)
    tok.train_from_iterator(list(world.corpus(rng, 20000)), trainer)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    save_json(out / "tokenizer_config.json", {
        "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 4096, "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>", "bos_token": None, "add_prefix_space": False})
    return tok


class Ids:
    def __init__(self, tok):
        self.tok = tok
        for t in SPECIAL:
            setattr(self, t.strip("<|>").replace("|", ""), tok.token_to_id(t))
        self.user_header = tok.encode("<|im_start|>user\n").ids

    def text(self, s: str) -> list:
        return self.tok.encode(s).ids


# ---- conversations as duogen renders them ------------------------------------------------------

def image_tokens(processor, size) -> int:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    w, h = size
    p = processor.patch_size * processor.merge_size
    hh, ww = smart_resize(h, w, factor=p, min_pixels=processor.size["shortest_edge"],
                          max_pixels=processor.size["longest_edge"])
    return (hh // p) * (ww // p)


def render_task(task: world.Task, ids: Ids, processor):
    """The token ids of the whole conversation, a mask of the tokens the MLLM learns to write,
    the pictures in order of appearance, and for every generated picture the index of its <BOV>
    and its condition pictures (every earlier picture)."""
    seq, learn, pictures, bovs = [], [], [], []

    def add(tokens, train):
        seq.extend(tokens)
        learn.extend([train] * len(tokens))

    add(ids.text(SYSTEM), False)  # text with added tokens encodes as the template builder does
    add(ids.text("<|im_start|>user\n"), False)
    for scene, size in task.user_images:
        pictures.append(world.render(scene, *size))
        add([ids.vision_start] + [ids.image_pad] * image_tokens(processor, size) + [ids.vision_end], False)
    add(ids.text(task.user_text + "<|im_end|>\n<|im_start|>assistant\n"), False)
    for kind, value in task.answer:
        if kind == "text":
            add(ids.text(value), True)
            continue
        bovs.append((len(seq), list(range(len(pictures)))))
        add([ids.BOV], True)
        pictures.append(world.render(value))
        add([ids.vision_start] + [ids.image_pad] * image_tokens(processor, (64, 64)) + [ids.vision_end], False)
    add([ids.im_end], True)
    return seq, learn, pictures, bovs


def negative_length(seq, ids: Ids, bov: int) -> int:
    """duogen's after_last_image rule (src/pipeline/conditioning.cpp)."""
    h = ids.user_header
    first = next(i + len(h) for i in range(len(seq)) if seq[i:i + len(h)] == h)
    q = first
    for i in range(bov):
        if seq[i] == ids.vision_end:
            q = max(q, i + 1)
    return q


# ---- VAE ---------------------------------------------------------------------------------------

def vae_config(mean=None, std=None):
    return dict(base_dim=12, z_dim=Z_DIM, dim_mult=[1, 2, 2, 4], num_res_blocks=1, attn_scales=[],
                temperal_downsample=[False, True, True], dropout=0.0,
                latents_mean=mean or [0.0] * Z_DIM, latents_std=std or [1.0] * Z_DIM)


def single_frame_convs():
    """For one frame with no cache, Wan's causal conv3d sees two zero frames before it: only the
    kernel's last temporal slice contributes. Training runs that slice as a conv2d (2x faster);
    `check_single_frame` confirms it equals the real forward."""
    from diffusers.models.autoencoders import autoencoder_kl_wan as wan
    original = wan.WanCausalConv3d.forward

    def forward(self, x, cache_x=None):
        if x.shape[2] != 1 or cache_x is not None:
            return original(self, x, cache_x)
        y = F.conv2d(F.pad(x[:, :, 0], self._padding[:4]), self.weight[:, :, -1], self.bias)
        return y[:, :, None]
    return wan.WanCausalConv3d, original, forward


def optimise(opt, sched, loss, clip_params=None) -> None:
    """One AdamW step on `loss`, the gradient norm clipped to 1 over `clip_params` if given."""
    opt.zero_grad()
    loss.backward()
    if clip_params is not None:
        torch.nn.utils.clip_grad_norm_(clip_params, 1.0)
    opt.step()
    sched.step()


def pixels(images) -> torch.Tensor:
    a = np.stack([np.asarray(im, dtype=np.float32) for im in images]) / 127.5 - 1.0
    return torch.from_numpy(a).permute(0, 3, 1, 2)[:, :, None]  # [B, 3, 1, H, W]


def random_pictures(rng, n, size):
    return [world.render(world.random_scene(rng, rng.choice((1, 2, 3))), *size) for _ in range(n)]


def decode_unclamped(vae, z):
    """AutoencoderKLWan._decode for one frame without its final clamp to [-1, 1]: the clamp has
    no gradient where the output overshoots, which stalls training at an all-white picture."""
    vae.clear_cache()
    out = vae.decoder(vae.post_quant_conv(z), feat_cache=vae._feat_map, feat_idx=[0], first_chunk=True)
    vae.clear_cache()
    return out


def train_vae(out: pathlib.Path, steps: int, seed: int):
    from diffusers import AutoencoderKLWan
    torch.manual_seed(seed)
    rng = random.Random(seed + 1)
    vae = AutoencoderKLWan(**vae_config())
    cls, original, fast = single_frame_convs()
    cls.forward = fast
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.05)
    for step in range(steps):
        size = (64, 64) if rng.random() < 0.6 else rng.choice(world.SIZES[1:])
        x = pixels(random_pictures(rng, 16, size))
        mu = vae._encode(x)[:, :Z_DIM]  # posterior mean, as duogen encodes condition frames
        y = decode_unclamped(vae, mu)
        loss = (y - x).abs().mean() + F.mse_loss(y, x) + 1e-4 * mu.pow(2).mean()
        optimise(opt, sched, loss, vae.parameters())
        if step % 50 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} loss {loss.item():.4f}")
    vae.eval()
    # The latent statistics over fresh 64x64 pictures, as Wan's latents_mean/std.
    with torch.no_grad():
        mus = torch.cat([vae._encode(pixels(random_pictures(rng, 32, (64, 64))))[:, :Z_DIM] for _ in range(16)])
        mean = mus.mean((0, 2, 3, 4)).tolist()
        std = mus.std((0, 2, 3, 4)).tolist()
        cls.forward = original
        x = pixels(random_pictures(rng, 4, (64, 64)))
        exact = vae._decode(vae._encode(x)[:, :Z_DIM], return_dict=False)[0]
        cls.forward = fast
        quick = vae._decode(vae._encode(x)[:, :Z_DIM], return_dict=False)[0]
        gap = (exact - quick).abs().max().item()
        assert gap < 1e-4, f"the single-frame conv2d shortcut differs from Wan's conv3d by {gap}"
    cls.forward = original
    out.mkdir(parents=True, exist_ok=True)
    config = {"_class_name": "AutoencoderKLWan", **vae_config(mean, std)}
    save_json(out / "config.json", config)
    safetensors.torch.save_file({k: v.contiguous() for k, v in vae.state_dict().items()},
                                str(out / "model.safetensors"))
    log(f"vae written; latent mean {['%.2f' % m for m in mean]} std {['%.2f' % s for s in std]}")


def load_vae(path: pathlib.Path):
    from diffusers import AutoencoderKLWan
    config = json.loads((path / "config.json").read_text())
    config.pop("_class_name")
    vae = AutoencoderKLWan(**config).eval()
    vae.load_state_dict(safetensors.torch.load_file(str(path / "model.safetensors")))
    mean = torch.tensor(config["latents_mean"]).view(1, -1, 1, 1, 1)
    std = torch.tensor(config["latents_std"]).view(1, -1, 1, 1, 1)
    return vae, mean, std


# ---- MLLM --------------------------------------------------------------------------------------

def mllm_config(ids: Ids, vocab: int):
    from transformers import Qwen2_5_VLConfig
    hidden = 128
    return Qwen2_5_VLConfig(
        text_config=dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=384,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, rms_norm_eps=1e-6,
                         rope_parameters=dict(rope_type="default", rope_theta=10000.0,
                                              mrope_section=[4, 6, 6]),
                         bos_token_id=ids.endoftext, eos_token_id=ids.im_end,
                         pad_token_id=ids.endoftext),
        vision_config=dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2,
                           out_hidden_size=hidden, fullatt_block_indexes=[1], window_size=112,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids.image_pad, video_token_id=ids.video_pad,
        vision_start_token_id=ids.vision_start, vision_end_token_id=ids.vision_end,
        # Untied: in a tied run the four colour words' embeddings ended 0.1 apart at norm 0.86
        # (the head pulls them together while colours are unpredictable), and colours stayed at
        # chance as inputs too.
        tie_word_embeddings=False)


def make_processor():
    # The PIL backend, as tools/reference/dump_qwen2_5_vl_vision.py (duogen's parity reference).
    from transformers import Qwen2VLImageProcessorPil
    # 64x64 pictures enter the vision tower at 112x112 (16 tokens after the 2x2 merge).
    return Qwen2VLImageProcessorPil(min_pixels=112 * 112, max_pixels=112 * 140 * 2,
                                 patch_size=14, merge_size=2, temporal_patch_size=2)


MLLM_MIX = [("steps", 0.35), ("describe", 0.35), ("t2i", 0.1), ("edit", 0.1), ("compose", 0.1)]
# The first quarter of the steps trains on step-by-step answers alone: copying each step's
# colour word from the prompt means finding the k-th phrase, which the model learned in ~200
# steps alone but not in 2500-5500 steps with every task mixed from the start.
MLLM_WARMUP = [("steps", 1.0)]
MLLM_WARMUP_FRACTION = 0.25


def pick(rng, mix):
    r, acc = rng.random(), 0.0
    for name, w in mix:
        acc += w
        if r < acc:
            return name
    return mix[-1][0]


def batch_inputs(rendered, processor, pad_id, image_token_id):
    length = max(len(r[0]) for r in rendered)
    input_ids = torch.full((len(rendered), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rendered), length), dtype=torch.long)
    labels = torch.full((len(rendered), length), -100, dtype=torch.long)
    pictures = []
    for b, (seq, learn, pics, _) in enumerate(rendered):
        input_ids[b, :len(seq)] = torch.tensor(seq)
        mask[b, :len(seq)] = 1
        labels[b, :len(seq)] = torch.where(torch.tensor(learn), torch.tensor(seq), torch.tensor(-100))
        pictures += pics
    # mm_token_type_ids marks the image tokens: without it transformers 5.23 silently falls back
    # to 1-D positions, and the model would learn other positions than M-RoPE's (the ones duogen
    # computes), which after a picture differ by (tokens - side) per picture.
    inputs = {"input_ids": input_ids, "attention_mask": mask,
              "mm_token_type_ids": (input_ids == image_token_id).int()}
    if pictures:
        p = processor(images=pictures, return_tensors="pt")
        inputs["pixel_values"], inputs["image_grid_thw"] = p["pixel_values"], p["image_grid_thw"]
    return inputs, labels


def train_mllm(out: pathlib.Path, tok, steps: int, seed: int, batch: int = 16, lr: float = 2e-3,
               init: pathlib.Path | None = None):
    from transformers import Qwen2_5_VLForConditionalGeneration
    torch.manual_seed(seed)
    rng = random.Random(seed + 2)
    ids = Ids(tok)
    processor = make_processor()
    if init:  # a second round from an earlier result (a new seed stream, a new schedule)
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(init)
    else:
        model = Qwen2_5_VLForConditionalGeneration(mllm_config(ids, tok.get_vocab_size()))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    colour_ids = torch.tensor([tok.token_to_id("Ġ" + c) for c in world.COLOURS])
    model.train()
    for step in range(steps):
        mix = MLLM_WARMUP if step < MLLM_WARMUP_FRACTION * steps and not init else MLLM_MIX
        rendered = [render_task(world.TASKS[pick(rng, mix)](rng), ids, processor) for _ in range(batch)]
        inputs, labels = batch_inputs(rendered, processor, ids.endoftext, ids.image_pad)
        logits = model(**inputs).logits
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
        # No clipping, as in the run that learned colour words; runs clipped at 1.0 never did
        # (nor did one unclipped with every task mixed from the start: see MLLM_WARMUP).
        optimise(opt, sched, loss)
        if step % 100 == 0 or step == steps - 1:
            target = labels[:, 1:]
            is_colour = torch.isin(target, colour_ids)
            right = (logits[:, :-1].argmax(-1) == target) & is_colour
            log(f"mllm step {step}/{steps} loss {loss.item():.4f} colour words right "
                f"{right.sum().item()}/{is_colour.sum().item()}")
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    log("mllm written")


# ---- DiT ---------------------------------------------------------------------------------------

def dit_config(text_hidden: int, text_layers: int):
    return dict(in_channels=Z_DIM + 1, out_channels=Z_DIM, num_attention_heads=4,
                attention_head_dim=32, num_layers=4, mlp_ratio=4.0, text_embed_dim=128,
                adaln_lora_dim=32, max_size=[128, 240, 240], patch_size=[1, 2, 2],
                rope_scale=[1.0, 3.0, 3.0], concat_padding_mask=True, extra_pos_embed_type=None,
                use_crossattn_projection=True, crossattn_proj_in_channels=text_layers * text_hidden,
                encoder_hidden_states_channels=128)


def normalized(hidden: torch.Tensor) -> torch.Tensor:
    """architecture.md §7.1 on [L + 1, T, H]: drop the embeddings, per-token standardise, concat."""
    x = hidden[1:].float()
    x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-8)
    return x.permute(1, 0, 2).reshape(x.shape[1], -1)


DIT_MIX = [("t2i", 0.35), ("edit", 0.25), ("compose", 0.15), ("steps", 0.25)]


class DitBatches:
    """Examples grouped by the sizes of their frames (one batch runs one packed layout)."""

    def __init__(self, rng, ids, processor, batch):
        self.rng, self.ids, self.processor, self.batch = rng, ids, processor, batch
        self.buckets = {}

    def __next__(self):
        while True:
            task = world.TASKS[pick(self.rng, DIT_MIX)](self.rng)
            seq, _, pics, bovs = render_task(task, self.ids, self.processor)
            bov, conds = self.rng.choice(bovs)
            target = len([b for b in bovs if b[0] <= bov]) + len(task.user_images) - 1
            key = tuple(pics[c].size for c in conds)
            bucket = self.buckets.setdefault(key, [])
            bucket.append((seq, pics, bov, conds, target))
            if len(bucket) == self.batch:
                self.buckets[key] = []
                return bucket


def train_dit(out: pathlib.Path, mllm_dir: pathlib.Path, vae_dir: pathlib.Path, tok, steps: int,
              seed: int, batch: int = 16):
    from diffusers import CosmosTransformer3DModel
    from transformers import Qwen2_5_VLForConditionalGeneration
    import dump_cosmos_dit  # noqa: F401  (installs diffusers' torchvision stand-in)
    torch.manual_seed(seed)
    rng = random.Random(seed + 3)
    ids = Ids(tok)
    processor = make_processor()
    mllm = Qwen2_5_VLForConditionalGeneration.from_pretrained(mllm_dir).eval()
    text = mllm.config.text_config
    vae, lat_mean, lat_std = load_vae(vae_dir)
    cls, original, fast = single_frame_convs()
    cls.forward = fast
    config = dit_config(text.hidden_size, text.num_hidden_layers)
    model = CosmosTransformer3DModel(**config)
    for name, module in model.named_modules():
        if name.endswith(("norm_q", "norm_k")):
            module.eps = dump_cosmos_dit.QK_NORM_EPS
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.05)
    batches = DitBatches(rng, ids, processor, batch)
    gen = torch.Generator().manual_seed(seed + 4)

    def encode(images):
        with torch.no_grad():
            return ((vae._encode(pixels(images))[:, :Z_DIM] - lat_mean) / lat_std)[:, :, 0]

    model.train()
    for step in range(steps):
        examples = next(batches)
        with torch.no_grad():
            inputs, _ = batch_inputs([(e[0], [True] * len(e[0]), e[1], None) for e in examples],
                                     processor, ids.endoftext, ids.image_pad)
            hidden = torch.stack(mllm(**inputs, output_hidden_states=True).hidden_states, 1)
        contexts = []
        for b, (seq, _, bov, _, _) in enumerate(examples):
            end = bov if rng.random() >= P_UNCOND else negative_length(seq, ids, bov)
            contexts.append(normalized(hidden[b, :, :end]))
        length = max(c.shape[0] for c in contexts)
        context = torch.zeros(len(contexts), length, contexts[0].shape[1])
        context_mask = torch.zeros(len(contexts), length, dtype=torch.bool)
        for b, c in enumerate(contexts):
            context[b, :c.shape[0]] = c
            context_mask[b, :c.shape[0]] = True
        n_cond = len(examples[0][3])
        frames = [encode([e[1][e[3][k]] for e in examples]) for k in range(n_cond)]
        x0 = encode([e[1][e[4]] for e in examples])
        sigma = torch.sigmoid(torch.randn(len(examples), generator=gen))
        sigma = (SHIFT * sigma / (1 + (SHIFT - 1) * sigma)).clamp(1e-3, 0.999)
        noise = torch.randn(x0.shape, generator=gen)
        s = sigma.view(-1, 1, 1, 1)
        xt = (1 - s) * x0 + s * noise
        t_net = torch.floor(sigma * 1000) * 0.001  # duogen's network_time "timestep"
        frame_t = torch.stack([torch.full_like(t_net, CONDITION_T)] * n_cond + [t_net], 1)
        v = dump_cosmos_dit.packed_velocity(model, frames + [xt], frame_t, [1] * n_cond + [0], context, context_mask)
        if step == 0:  # the masked batch equals one example run alone on its own context
            with torch.no_grad():
                b = min(range(len(contexts)), key=lambda i: contexts[i].shape[0])  # most padded
                alone = dump_cosmos_dit.packed_velocity(
                    model, [f[b:b + 1] for f in frames + [xt]], frame_t[b:b + 1],
                    [1] * n_cond + [0], contexts[b][None], None)
                gap = (alone - v[b:b + 1]).abs().max().item()
            assert length > contexts[b].shape[0], "the check needs a padded context"
            assert gap < 1e-4, f"the cross-attention mask changes the velocity by {gap}"
        loss = F.mse_loss(v, noise - x0)
        optimise(opt, sched, loss, model.parameters())
        if step % 100 == 0 or step == steps - 1:
            log(f"dit step {step}/{steps} loss {loss.item():.4f} ({n_cond} condition frames)")
    cls.forward = original
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    save_json(out / "config.json", {"_class_name": "CosmosTransformer3DModel", **config})
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                                str(out / "model.safetensors"))
    log("dit written")


def write_manifest(out: pathlib.Path, ids: Ids):
    save_json(out / "duogen.json", {
        "format": "duogen-model-v1", "mllm": "mllm", "dit": "dit", "vae": "vae",
        "bov_token": "<BOV>", "bov_token_id": ids.BOV,
        "eov_token": "<|vision_end|>", "eov_token_id": ids.vision_end,
        "cfg_negative": "after_last_image", "cfg_formula": "cosmos",
        "condition_max_area": 96 * 96, "noise": "torch", "shift": SHIFT,
        "condition_timestep": CONDITION_T, "network_time": "timestep",
        "defaults": {"steps": 20, "guidance": 2.0, "width": 64, "height": 64,
                     "max_new_tokens": 128, "max_images": 4, "temperature": 0.0}})


def write_render_fixture(model_dir: pathlib.Path, out: pathlib.Path, seed: int) -> None:
    """Jobs and the token ids this script trained on for them (the prompt up to the assistant
    turn, then up to the end of the first generated picture) with the trained MLLM's greedy next
    token after each, for a test that the engine renders the same ids and continues the same way
    (tests/pipeline/demo_model_test.cpp)."""
    from tokenizers import Tokenizer
    ids = Ids(Tokenizer.from_file(str(model_dir / "mllm" / "tokenizer.json")))
    processor = make_processor()
    from transformers import Qwen2_5_VLForConditionalGeneration
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir / "mllm").eval()

    def next_token(seq, pictures):
        """The trained MLLM's greedy next token after `seq` (transformers' full forward)."""
        inputs, _ = batch_inputs([(seq, [False] * len(seq), pictures, None)], processor,
                                 ids.endoftext, ids.image_pad)
        with torch.no_grad():
            return int(model(**inputs).logits[0, -1].argmax())

    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for kind in ("t2i", "edit", "compose", "steps", "describe"):
        task = world.TASKS[kind](rng)
        seq, _, pics, bovs = render_task(task, ids, processor)
        content = []
        for k, (scene, size) in enumerate(task.user_images):
            name = f"render-{kind}-{k + 1}.png"
            pics[k].save(out / name)
            content.append({"type": "image", "path": name})
        content.append({"type": "text", "text": task.user_text})
        prompt_end = max(i for i in range(len(seq)) if seq[i] == ids.im_start) + len(ids.text("<|im_start|>assistant\n"))
        case = {"job": {"id": f"render-{kind}", "messages": [{"role": "user", "content": content}]},
                "prompt_ids": seq[:prompt_end],
                "next_after_prompt": next_token(seq[:prompt_end], pics[:len(task.user_images)])}
        if bovs:
            first = pics[len(task.user_images)]
            name = f"render-{kind}-generated.png"
            first.save(out / name)
            case["generated_image"] = name
            case["bov"] = bovs[0][0]
            case["ids_through_image"] = seq[:seq.index(ids.vision_end, bovs[0][0]) + 1]
            case["next_after_image"] = next_token(case["ids_through_image"],
                                                  pics[:len(task.user_images) + 1])
        cases.append(case)
    save_json(out / "render_fixture.json", cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--qwen-tokenizer", type=pathlib.Path,
                        default=HERE.parents[2] / "shared" / "models" / "qwen2-tokenizer")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--stages", default="tokenizer,vae,mllm,dit")
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--mllm-steps", type=int, default=1500)
    parser.add_argument("--mllm-lr", type=float, default=2e-3)
    parser.add_argument("--mllm-init", type=pathlib.Path, help="continue from this MLLM directory")
    parser.add_argument("--dit-steps", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--render-fixture", type=pathlib.Path,
                        help="write jobs + the ids trained on for them into this directory")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stages = args.stages.split(",")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    from tokenizers import Tokenizer
    if "tokenizer" in stages:
        train_tokenizer(out / "mllm", args.qwen_tokenizer, args.seed)
        log(f"tokenizer written ({Tokenizer.from_file(str(out / 'mllm' / 'tokenizer.json')).get_vocab_size()} tokens)")
    tok = Tokenizer.from_file(str(out / "mllm" / "tokenizer.json"))
    if "vae" in stages:
        train_vae(out / "vae", args.vae_steps, args.seed)
    if "mllm" in stages:
        train_mllm(out / "mllm", tok, args.mllm_steps, args.seed + (1000 if args.mllm_init else 0),
                   lr=args.mllm_lr, init=args.mllm_init)
    if "dit" in stages:
        train_dit(out / "dit", out / "mllm", out / "vae", tok, args.dit_steps, args.seed)
    write_manifest(out, Ids(tok))
    if args.render_fixture:
        write_render_fixture(out, args.render_fixture, args.seed + 5)


if __name__ == "__main__":
    main()
