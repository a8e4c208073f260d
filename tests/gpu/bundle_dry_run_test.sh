#!/usr/bin/env bash
# ctest gpu.bundle_dry_run: the GPU bundle builds from an existing build dir and passes the device
# check's dry run on this (CPU) machine; a bundle missing a library fails the relocation check.
#   bundle_dry_run_test.sh --build BUILD_DIR --work SCRATCH_DIR
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build"; WORK=""
while (($#)); do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$WORK" ]] || WORK="$(mktemp -d)"
rm -rf "$WORK"; mkdir -p "$WORK"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
LIMIT=$((64 * 1048576))
STEPS=(relocate cuda_tests memcheck bench_kernels bench_e2e)

# 1. The bundle, from the existing build (no build step here).
if "$ROOT/tools/gpu/bundle.sh" --no-build --build-dir "$BUILD" --out "$WORK/gpu-bundle" \
     --travel-check >"$WORK/bundle.out" 2>&1; then
  ok "bundle.sh --no-build"
else
  fail "bundle.sh --no-build exited $?"
fi
cat "$WORK/bundle.out"
size=$(du -sb "$WORK/gpu-bundle" 2>/dev/null | cut -f1)
if [[ -n "$size" ]] && ((size <= LIMIT)); then ok "bundle is $size bytes (limit $LIMIT)"; else fail "bundle size ${size:-?} over $LIMIT"; fi
[[ -f "$WORK/gpu-bundle/manifest.json" ]] && ok "manifest.json" || fail "no manifest.json"
for f in bin/duogen bin/test_kernels bin/bench_kernels bin/bench_e2e env.sh bundle.env tools/bench/bench_e2e.py; do
  [[ -e "$WORK/gpu-bundle/$f" ]] || fail "bundle lacks $f"
done

# 2. The dry run: relocation, commands, --gtest_list_tests; one summary.json listing every step.
"$ROOT/tools/gpu/device_check.sh" --dry-run --bundle "$WORK/gpu-bundle" --out "$WORK/out"
rc=$?
((rc == 0)) && ok "device_check.sh --dry-run" || { fail "device_check.sh --dry-run exited $rc"; cat "$WORK/out"/*.log 2>/dev/null | tail -40; }
S="$WORK/out/summary.json"
if [[ -f "$S" ]]; then
  ok "summary.json"
  PY="$(command -v python3 || true)"
  if [[ -n "$PY" ]]; then
    "$PY" - "$S" "${STEPS[@]}" <<'PY' || fail "summary.json check"
import json, sys
s = json.load(open(sys.argv[1]))
want = sys.argv[2:]
got = [x["step"] for x in s["steps"]]
assert got == want, f"steps {got}, expected {want}"
for x in s["steps"]:
    assert {"rc", "seconds", "status"} <= x.keys(), x
    assert x["status"] == "ok", f'{x["step"]}: {x["status"]} {x["notes"]}'
assert s["mode"] == "dry-run" and sum(x["budget_s"] for x in s["steps"]) <= s["budget_seconds"] <= 480
print("ok: summary.json lists", ", ".join(got), "all ok, budgets within", s["budget_seconds"], "s")
PY
  else
    for st in "${STEPS[@]}"; do grep -q "\"step\": \"$st\"" "$S" || fail "summary.json lacks step $st"; done
  fi
else
  fail "no summary.json"
fi
n=$(find "$WORK/out" -type f | wc -l)
((n <= 8)) && ok "$n result files (the device tool returns at most 8)" || fail "$n result files, over 8"

# 3. A library missing from the bundle fails the relocation check, naming it.
rm -f "$WORK/gpu-bundle/lib/libfmt.so.9"
if "$ROOT/tools/gpu/device_check.sh" --dry-run --only relocate --bundle "$WORK/gpu-bundle" --out "$WORK/out-broken" >/dev/null; then
  fail "the relocation check passed without lib/libfmt.so.9"
elif grep -q "RELOCATION FAILED: .*libfmt.so.9" "$WORK/out-broken/relocate.log"; then
  ok "a missing libfmt.so.9 fails the relocation check"
else
  fail "relocation failed without naming libfmt.so.9"; cat "$WORK/out-broken/relocate.log"
fi

((FAILS == 0)) && { echo "gpu.bundle_dry_run: passed"; rm -rf "$WORK"; exit 0; }
echo "gpu.bundle_dry_run: $FAILS failure(s); scratch kept in $WORK"
exit 1
