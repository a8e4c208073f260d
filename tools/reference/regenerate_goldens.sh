#!/usr/bin/env bash
# Regenerates every golden file under tests/data from the reference implementations (the pinned
# versions in requirements.txt, installed into .venv by tools/setup.sh). Deterministic: the same
# versions give the same tensors (Python safetensors may order __metadata__ keys differently).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
REF="$ROOT/tools/reference"
DATA="$ROOT/tests/data"

rm -rf "$DATA/tiny-qwen2_5_vl"
"$PY" "$REF/make_tiny_qwen2_5_vl.py" "$DATA/tiny-qwen2_5_vl"
for dtype in float32 bfloat16; do
  "$PY" "$REF/dump_reference.py" qwen2_5_vl.text_embed_norm --model "$DATA/tiny-qwen2_5_vl" \
    --dtype "$dtype" --out "$DATA/reference/qwen2_5_vl.text_embed_norm.$dtype.safetensors"
done
"$PY" "$REF/dump_qwen2_5_vl_configs.py" "$DATA/reference/qwen2_5_vl_configs.json"

rm -rf "$DATA/tiny-wan_vae"
"$PY" "$REF/make_tiny_wan_vae.py" "$DATA/tiny-wan_vae" "$DATA/reference/wan_vae_name_map.json"
"$PY" "$REF/dump_wan_vae.py" --model "$DATA/tiny-wan_vae" --out-dir "$DATA/reference"

rm -rf "$DATA/tiny-cosmos_dit" "$DATA/tiny-cosmos_dit-original"
"$PY" "$REF/make_tiny_cosmos_dit.py" "$DATA"
"$PY" "$REF/dump_cosmos_dit.py" --model "$DATA/tiny-cosmos_dit" --out-dir "$DATA/reference"
"$PY" "$REF/dump_cosmos_dit_sampling.py" --model "$DATA/tiny-cosmos_dit" --out-dir "$DATA/reference"
"$PY" "$REF/dump_qwen2_5_vl_vision.py" --model "$DATA/tiny-qwen2_5_vl" \
  --images-dir "$DATA/images/qwen2_5_vl" --out-dir "$DATA/reference"
"$PY" "$REF/dump_flow_sampler.py" --out "$DATA/reference/flow_sampler.safetensors"
"$PY" "$REF/make_exif_images.py" --images-dir "$DATA/images/exif" \
  --out "$DATA/reference/exif_orientation.safetensors"
# Qwen2.5-VL language model: tied-embeddings variant (bf16-stored) and the `qwen2_5_vl` dumps.
rm -rf "$DATA/tiny-qwen2_5_vl-tied"
"$PY" "$REF/make_tiny_qwen2_5_vl.py" "$DATA/tiny-qwen2_5_vl-tied" --tie-word-embeddings \
  --storage-dtype bfloat16 --single-file
for dtype in float32 bfloat16; do
  "$PY" "$REF/dump_qwen2_5_vl.py" --model "$DATA/tiny-qwen2_5_vl" --random-prompt 24 \
    --dtype "$dtype" --out "$DATA/reference/qwen2_5_vl.lm.text.$dtype.safetensors"
  "$PY" "$REF/dump_qwen2_5_vl.py" --model "$DATA/tiny-qwen2_5_vl-tied" --random-prompt 24 \
    --dtype "$dtype" --seed 1 --out "$DATA/reference/qwen2_5_vl.lm.tied.$dtype.safetensors"
done
# Two images: merged grids 4x2 (height a multiple of 4) and 2x3; vision features as an input.
"$PY" "$REF/dump_qwen2_5_vl.py" --model "$DATA/tiny-qwen2_5_vl" --random-prompt 20 \
  --image 56 112 --image 84 56 --vision-embeds-input \
  --out "$DATA/reference/qwen2_5_vl.lm.images.float32.safetensors"
"$PY" "$REF/dump_logits_processors.py" "$DATA/reference/logits_processors.safetensors"
# Cosmos-Predict2.5 diffusers pipeline: the tiny snapshot (save_pretrained layout) and whole-pipeline dumps.
rm -rf "$DATA/tiny-cosmos2_5" "$DATA/reference/cosmos_pipeline.v2w.frames"
"$PY" "$REF/make_tiny_cosmos_snapshot.py" --out "$DATA/tiny-cosmos2_5"
"$PY" "$REF/dump_cosmos_pipeline.py" --model "$DATA/tiny-cosmos2_5" --out-dir "$DATA/reference"
# Config variants: Qwen2.5-VL activations / tie in text_config; DiT and VAE keys beyond the
# released configs; tiny PyTorch pickle checkpoints for the "convert it with ..." errors.
"$PY" "$REF/dump_qwen2_5_vl_variants.py" "$DATA/reference/qwen2_5_vl.variants.safetensors"
"$PY" "$REF/dump_diffusers_config_variants.py" "$DATA/reference"
rm -rf "$DATA/pickle"
"$PY" "$REF/make_pickle_checkpoints.py" "$DATA/pickle"
