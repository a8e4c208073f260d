#!/usr/bin/env bash
# One-command set-up for a fresh Debian 12 machine, idempotent and quick when already done:
#   1. Debian packages (compilers, CMake, the C++ libraries duogen links),
#   2. the project-local Python venv (.venv) with the pinned reference stack, which also
#      provides libtorch (the torch wheel's C++ headers and libraries),
#   3. a Release build in build/,
#   4. the main job on the embedded tiny checkpoint.
# Environment: DUOGEN_BUILD_DIR (default build), DUOGEN_SKIP_RUN=1 to stop after building.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${DUOGEN_BUILD_DIR:-build}"

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git xz-utils
  python3 python3-venv python3-pip
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libstb-dev
  libgtest-dev libgmock-dev
  libsentencepiece-dev sentencepiece libpcre2-dev libutf8proc-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  libcpp-httplib-dev
  chromium chromium-driver
)

log() { printf '[setup] %s\n' "$*"; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all present"
fi

# The venv is rebuilt only when requirements.txt changes (its hash is stamped inside the venv).
REQ="tools/reference/requirements.txt"
STAMP=".venv/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  log "installing the Python reference stack into .venv (torch, transformers, diffusers, ...)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$REQ"
  echo "$want" > "$STAMP"
else
  log "Python venv: up to date"
fi

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  log "configuring $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
log "building"
cmake --build "$BUILD_DIR" --parallel "$(nproc)"

if [[ "${DUOGEN_SKIP_RUN:-0}" != "1" ]]; then
  # The main job on the trained shapes demo model (models/shapes-demo): a step-by-step answer
  # whose pictures build on each other and match their text.
  log "running: $BUILD_DIR/duogen generate --model models/shapes-demo --prompts examples/shapes_steps.json"
  rm -rf "$BUILD_DIR/quickstart"
  "$BUILD_DIR/duogen" generate --model models/shapes-demo --prompts examples/shapes_steps.json \
    --out "$BUILD_DIR/quickstart"
  log "outputs: $BUILD_DIR/quickstart/shapes-steps/{index.html,result.md,result.json,image-*.png}"
fi
