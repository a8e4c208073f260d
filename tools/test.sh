#!/usr/bin/env bash
# Runs the whole test suite: every test of the Release build, then the unit tests again in an
# AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/). Needs tools/setup.sh first.
# Environment: DUOGEN_SKIP_ASAN=1 skips the sanitizer pass (for quick local runs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
JOBS="$(nproc)"

if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build --parallel "$JOBS"
ctest --test-dir build --output-on-failure --parallel "$JOBS"

if [[ "${DUOGEN_SKIP_ASAN:-0}" != "1" ]]; then
  if [[ ! -f build-asan/build.ninja ]]; then
    # -O1 keeps sanitizer builds fast enough on 2 cores; CUDA is irrelevant to host-side checks.
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
      -DDUOGEN_SANITIZE=ON -DDUOGEN_CUDA=OFF
  fi
  cmake --build build-asan --parallel "$JOBS"
  ctest --test-dir build-asan --output-on-failure --parallel "$JOBS" -L unit
fi
