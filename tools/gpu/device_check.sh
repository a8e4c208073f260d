#!/usr/bin/env bash
# duogen's check on a lent GPU machine, in one command from the repo root (tools/gpu/README.md):
#
#   tools/gpu/device_check.sh [--bundle gpu-bundle] [--out DIR] [--only step,step] [--dry-run]
#                             [--budget step=seconds]... [--python PY]
#
# Steps, in order, each under its own time budget (timeout; the sum is at most 480 s = 8 min) and
# each logged to DIR/<step>.log; one failing step never stops the next:
#   relocate       the bundle's binaries resolve every library (ldd: no "not found", nothing
#                  outside the bundle, the device's torch and glibc); the compiled-in test paths
#                  exist (linked into place); the machine's facts (GPU, torch, glibc, libstdc++)
#   cuda_tests     test_kernels, test_core and test_cli's DeviceCli tests (gtest, JSON results)
#   memcheck       compute-sanitizer --tool memcheck on test_kernels' small-shape GPU tests
#   bench_kernels  every attention backend per call site vs direct SDPA flash/cuDNN/mem-efficient
#                  (bf16): the ratio table, and DIR/attention_table.json (the measured dispatch)
#   bench_e2e      tools/bench/bench_e2e.py --preset real --dtype bf16: duogen (dispatched by that
#                  table) vs transformers and diffusers (the bundle carries diffusers)
# DIR (default $OUT, the device tool's output dir) gets at most 8 files (the tool brings back no
# more): summary.json (step, status, rc, seconds, notes, result tables), the five logs,
# cuda_tests.json (every gtest JSON report, memcheck's too) and attention_table.json.
#
# --dry-run, on any machine without a GPU (CI): the same relocation check against this machine's
# torch (the build venv's by default), every command with its budget printed, the test binaries
# run with --gtest_list_tests (proves they load), bench_kernels/bench_e2e with --help, the Python
# scripts compiled; the same summary.json. Exit status: 0 when no step failed.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="$REPO/gpu-bundle"
OUT_DIR="${OUT:-}"
DRY=0
ONLY=""
PYTHON_ARG=""
STEPS=(relocate cuda_tests memcheck bench_kernels bench_e2e)
declare -A BUDGET=([relocate]=25 [cuda_tests]=60 [memcheck]=100 [bench_kernels]=45 [bench_e2e]=250)
TOTAL_BUDGET=480
# Small GPU tests for memcheck: bf16 rms norm (d 128 warp rows, d 1280/5000 with odd tails), bf16 fused ops, the
# flash kernel on ragged 33x47 causal GQA tiles (all dtypes x head dims), varlen with empty and
# one-token segments (d 80), split-K decode with its combine kernel (d 128), the fallbacks.
MEMCHECK_FILTER="${DUOGEN_GPU_MEMCHECK_FILTER:-Shapes/RmsNormCuda.*/14:Shapes/RmsNormCuda.*/15:Shapes/RmsNormCuda.*/17:Dtypes/FusedOpsCuda.*/2:DtypesAndHeadDims/FlashAttentionCuda.CustomScale*:DtypesAndHeadDims/FlashAttentionCuda.VarlenSegments*/4:DtypesAndHeadDims/FlashAttentionCuda.DecodeWithSplitKeys*/5:FlashAttentionDispatch.*}"
# Fewer repeats than the preset's 5 (+2 warm-up) so that the real preset fits its budget.
E2E_ARGS="${DUOGEN_GPU_E2E_ARGS:---repeats 3 --warmup 1}"
CLI_FILTER="DeviceCli.AMissingCudaDeviceFailsWithExitOneNamingIt"

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --bundle) BUNDLE="$2"; shift 2 ;;
    --out) OUT_DIR="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --python) PYTHON_ARG="$2"; shift 2 ;;
    --budget)
      k="${2%%=*}"; v="${2#*=}"
      [[ -n "${BUDGET[$k]:-}" && "$v" =~ ^[0-9]+$ ]] || { echo "device_check.sh: bad --budget '$2'" >&2; exit 2; }
      BUDGET[$k]="$v"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "device_check.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
OUT_DIR="${OUT_DIR:-$REPO/gpu-check-out}"
mkdir -p "$OUT_DIR" || exit 2
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
BUNDLE="$(cd "$BUNDLE" 2>/dev/null && pwd)" || { echo "device_check.sh: no bundle at '$BUNDLE' (tools/gpu/bundle.sh makes it)" >&2; BUNDLE=""; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/duogen-gpu-check.XXXXXX")"
mkdir -p "$WORK/gtest"
trap 'rm -rf "$WORK"' EXIT
MODE=$([[ $DRY == 1 ]] && echo dry-run || echo device)
START=$(date +%s)
sum=0; for s in "${STEPS[@]}"; do sum=$((sum + BUDGET[$s])); done
if ((sum > TOTAL_BUDGET)); then
  echo "device_check.sh: step budgets sum to ${sum}s, over the ${TOTAL_BUDGET}s total" >&2; exit 2
fi

# ---- summary.json (rewritten after every step, so that a killed run still leaves one) ----------
json_str() {
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/}"; s="${s//$'\n'/\\n}"
  s="$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')"
  printf '"%s"' "$s"
}
json_list() { local first=1; printf '['; for x in "$@"; do ((first)) || printf ', '; first=0; json_str "$x"; done; printf ']'; }
RECORDS=()
STEP_NOTES=(); STEP_RESULTS=(); STEP_CMDS=(); PLANNED=()
write_summary() {
  {
    printf '{\n  "mode": "%s",\n  "started": %s,\n  "seconds": %s,\n  "budget_seconds": %s,\n' \
      "$MODE" "$(json_str "$(date -u -d "@$START" +%Y-%m-%dT%H:%M:%SZ)")" "$(($(date +%s) - START))" "$TOTAL_BUDGET"
    printf '  "bundle": %s,\n  "bundle_commit": %s,\n  "bundle_cuda_archs": %s,\n' "$(json_str "${BUNDLE:-}")" \
      "$(json_str "${BUNDLE_GIT_COMMIT:-}")" "$(json_str "${BUNDLE_CUDA_ARCHS:-}")"
    printf '  "steps_in_order": %s,\n  "steps": [\n' "$(json_list "${STEPS[@]}")"
    local i
    for i in "${!RECORDS[@]}"; do
      printf '    %s%s\n' "${RECORDS[$i]}" "$([[ $i -lt $((${#RECORDS[@]} - 1)) ]] && echo ,)"
    done
    printf '  ]\n}\n'
  } >"$OUT_DIR/summary.json.tmp" && mv "$OUT_DIR/summary.json.tmp" "$OUT_DIR/summary.json"
}
record() {  # step status rc seconds
  RECORDS+=("{\"step\": \"$1\", \"status\": \"$2\", \"rc\": $3, \"seconds\": $4, \"budget_s\": ${BUDGET[$1]}, \"log\": \"$1.log\", \"commands\": $(json_list "${STEP_CMDS[@]}"), \"device_commands\": $(json_list "${PLANNED[@]}"), \"notes\": $(json_list "${STEP_NOTES[@]}"), \"results\": $(json_list "${STEP_RESULTS[@]}")}")
  write_summary
}
note() { STEP_NOTES+=("$1"); echo "  note: $1" >>"$LOG"; }

# Runs "$@" under the step's remaining budget, appending to the step log; prints the command.
# Returns the command's status (124: out of time).
STEP_DEADLINE=0
run_cmd() {
  local left=$((STEP_DEADLINE - $(date +%s)))
  ((left < 1)) && left=1
  STEP_CMDS+=("$*")
  echo "\$ $* # budget ${left}s" >>"$LOG"
  timeout -k 10 "$left" "$@" >>"$LOG" 2>&1
}

# ---- relocate ------------------------------------------------------------------------------------
SYSTEM_LIBS='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libutil\.so\.1|libresolv\.so\.2|libanl\.so\.1|libmvec\.so\.1|ld-linux-x86-64\.so\.2|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libcuda\.so\.1|libnvidia-.*)$'
check_elf() {  # every direct NEEDED resolves into the bundle, the torch site or the system's glibc
  local f="$1" out rc bad=0 name arrow path
  out="$(LD_LIBRARY_PATH="$DUOGEN_GPU_LIBRARY_PATH" ldd "$f" 2>&1)"; rc=$?
  if ((rc != 0)); then echo "RELOCATION FAILED: ldd $f: $out" >>"$LOG"; return 1; fi
  if grep -q "not found" <<<"$out"; then
    grep "not found" <<<"$out" | sed "s|^|RELOCATION FAILED: ${f#"$BUNDLE"/}: |" >>"$LOG"
    bad=1
  fi
  declare -A at=()
  while read -r name arrow path _; do [[ "$arrow" == "=>" ]] && at[$name]="$path"; done <<<"$out"
  local site; site="$(dirname "$DUOGEN_GPU_TORCH_DIR")"
  while read -r name; do
    path="${at[$name]:-}"
    [[ -z "$path" || "$path" == "not" ]] && continue  # reported above
    if [[ "$path" == "$BUNDLE/lib/"* || "$path" == "$site/"* ]]; then continue; fi
    [[ "$name" =~ $SYSTEM_LIBS ]] && continue
    echo "RELOCATION FAILED: ${f#"$BUNDLE"/}: $name => $path lies outside the bundle and the torch site (bundle it)" >>"$LOG"
    bad=1
  done < <(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  return $bad
}

link_compiled_paths() {  # the test binaries carry absolute paths of the build machine
  [[ -d "$BUNDLE_SOURCE_DIR/tests" ]] && [[ -e "$BUNDLE_BUILD_DIR/duogen" ]] && {
    note "compiled-in paths exist: $BUNDLE_SOURCE_DIR, $BUNDLE_BUILD_DIR/duogen"; return 0; }
  if ((DRY)); then note "would link $BUNDLE_SOURCE_DIR -> $REPO and $BUNDLE_BUILD_DIR/duogen -> bundle"; return 0; fi
  if [[ ! -e "$BUNDLE_SOURCE_DIR" ]]; then
    mkdir -p "$(dirname "$BUNDLE_SOURCE_DIR")" && ln -s "$REPO" "$BUNDLE_SOURCE_DIR" &&
      note "linked $BUNDLE_SOURCE_DIR -> $REPO"
  fi
  if [[ ! -e "$BUNDLE_BUILD_DIR/duogen" ]]; then
    mkdir -p "$BUNDLE_BUILD_DIR" && ln -sf "$BUNDLE/bin/duogen" "$BUNDLE_BUILD_DIR/duogen" &&
      note "linked $BUNDLE_BUILD_DIR/duogen -> bundle/bin/duogen"
  fi
  [[ -d "$BUNDLE_SOURCE_DIR/tests/data" ]] || { note "FAILED: $BUNDLE_SOURCE_DIR/tests/data missing"; return 1; }
}

TOKENIZER_OK=0
place_tokenizer() {
  local dir; dir="$(readlink -m "$BUNDLE_TOKENIZER_DIR")"
  if [[ -f "$dir/tokenizer.json" ]]; then TOKENIZER_OK=1; return; fi
  [[ -f "$BUNDLE/data/qwen2-tokenizer.tar.gz" ]] || { note "no tokenizer in the bundle: test_cli skipped"; return; }
  if ((DRY)); then note "would unpack data/qwen2-tokenizer.tar.gz into $dir"; TOKENIZER_OK=1; return; fi
  mkdir -p "$dir" && tar -xzf "$BUNDLE/data/qwen2-tokenizer.tar.gz" -C "$dir" && TOKENIZER_OK=1 &&
    note "unpacked the Qwen tokenizer into $dir"
}

PY=""; PYPATH=""; E2E_PY_OK=0
python_facts() {
  PY="${DUOGEN_GPU_PYTHON:-}"
  [[ -n "$PY" ]] || { note "no python with torch"; return; }
  local tv; tv="$(sed -n "s/^__version__ = '\(.*\)'.*/\1/p" "$DUOGEN_GPU_TORCH_DIR/version.py" 2>/dev/null)"
  note "python $PY, torch $tv at $DUOGEN_GPU_TORCH_DIR (bundle built against ${BUNDLE_TORCH_VERSION:-?})"
  [[ "${tv%%+*}" == "${BUNDLE_TORCH_VERSION%%+*}" ]] || note "WARNING: torch ${tv} here, ${BUNDLE_TORCH_VERSION} at build time: the libtorch C++ ABI may differ"
  if ((DRY)); then
    if tar -tJf "$BUNDLE/py/diffusers.tar.xz" diffusers/__init__.py >/dev/null 2>&1; then
      note "py/diffusers.tar.xz holds diffusers ${BUNDLE_DIFFUSERS_VERSION}"; E2E_PY_OK=1
    else note "WARNING: no diffusers in the bundle (py/diffusers.tar.xz): on the device bench_e2e would be skipped"; fi
    return
  fi
  if ! "$PY" -c 'import diffusers' >/dev/null 2>&1 && [[ -f "$BUNDLE/py/diffusers.tar.xz" ]]; then
    # tar -J needs the xz binary; Python's tarfile (lzma) unpacks it where that is missing.
    mkdir -p "$WORK/py" &&
      { tar -xJf "$BUNDLE/py/diffusers.tar.xz" -C "$WORK/py" 2>/dev/null ||
        "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
          "$BUNDLE/py/diffusers.tar.xz" "$WORK/py"; } && PYPATH="$WORK/py" &&
      note "diffusers ${BUNDLE_DIFFUSERS_VERSION} unpacked from the bundle (the machine has none)"
  fi
  local v left=$((STEP_DEADLINE - $(date +%s)))
  ((left < 5)) && left=5
  v="$(PYTHONPATH="$PYPATH${PYTHONPATH:+:$PYTHONPATH}" timeout "$left" "$PY" -c 'import transformers, diffusers; print("transformers", transformers.__version__, "diffusers", diffusers.__version__)' 2>&1 | tail -1)"
  if [[ "$v" == transformers* ]]; then note "$v"; E2E_PY_OK=1; else note "bench_e2e reference stack unusable: $v"; fi
}

step_relocate() {
  [[ -n "$BUNDLE" && -f "$BUNDLE/bundle.env" ]] || { echo "RELOCATION FAILED: no bundle (run tools/gpu/bundle.sh)" >>"$LOG"; return 1; }
  # shellcheck disable=SC1091
  . "$BUNDLE/bundle.env"
  # In case the copy onto the device dropped the executable bits.
  ((DRY)) || chmod +x "$BUNDLE"/bin/* "$BUNDLE"/libexec/* 2>/dev/null
  export DUOGEN_GPU_BUNDLE="$BUNDLE"
  [[ -n "$PYTHON_ARG" ]] && export DUOGEN_PYTHON="$PYTHON_ARG"
  if ((DRY)) && [[ -z "${DUOGEN_PYTHON:-}" && -x "$REPO/.venv/bin/python" ]]; then export DUOGEN_PYTHON="$REPO/.venv/bin/python"; fi
  # shellcheck disable=SC1091
  if ! . "$BUNDLE/env.sh" 2>>"$LOG"; then echo "RELOCATION FAILED: env.sh found no torch" >>"$LOG"; return 1; fi
  HAVE_ENV=1
  {
    echo "machine: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(ldd --version 2>&1 | head -1)"
    echo "bundle: $BUNDLE (commit ${BUNDLE_GIT_COMMIT:0:12}, cuda ${BUNDLE_CUDA_ARCHS:-none}, ffmpeg $BUNDLE_FFMPEG)"
    echo "library path of our binaries: $DUOGEN_GPU_LIBRARY_PATH"
    echo "system libstdc++: ${DUOGEN_GPU_STDCXX:-none}; needs $BUNDLE_GLIBCXX_NEED/$BUNDLE_CXXABI_NEED; bundled compat libstdc++ used: $DUOGEN_GPU_COMPAT"
  } >>"$LOG"
  ((BUNDLE_HAS_CUDA)) || note "WARNING: the bundle was built without CUDA kernels"
  local bad=0 f n=0
  for f in "$BUNDLE"/libexec/* "$BUNDLE"/lib/*.so*; do
    [[ -f "$f" ]] || continue
    n=$((n + 1)); check_elf "$f" || bad=1
  done
  if ((DUOGEN_GPU_COMPAT)); then for f in "$BUNDLE"/lib/compat/*; do n=$((n + 1)); check_elf "$f" || bad=1; done; fi
  if ((bad)); then note "FAILED: some of $n ELF files do not resolve their libraries (RELOCATION FAILED lines in relocate.log)"
  else note "all $n ELF files resolve their libraries (bundle, torch, glibc)"; fi
  link_compiled_paths || bad=1
  place_tokenizer
  python_facts
  if ((!DRY)); then
    { echo "--- nvidia-smi"; timeout 20 nvidia-smi -L 2>&1; timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1; } >>"$LOG"
    command -v cuobjdump >/dev/null && { echo "--- cuobjdump --list-elf test_kernels"; cuobjdump --list-elf "$BUNDLE/libexec/test_kernels" 2>&1 | head -20; } >>"$LOG"
  fi
  return $bad
}

# ---- cuda_tests ----------------------------------------------------------------------------------
step_cuda_tests() {
  local rc=0 r t filter
  for t in test_kernels test_core test_cli; do
    [[ -x "$BUNDLE/bin/$t" ]] || { note "$t not in the bundle: skipped"; continue; }
    filter=()
    if [[ $t == test_cli ]]; then
      ((TOKENIZER_OK)) || { note "test_cli skipped: no tokenizer"; continue; }
      filter=(--gtest_filter="$CLI_FILTER")
    fi
    PLANNED+=("$BUNDLE/bin/$t --gtest_color=no ${filter[*]}${filter[*]:+ }--gtest_output=json:$WORK/gtest/$t.json")
    if ((DRY)); then
      run_cmd "$BUNDLE/bin/$t" --gtest_list_tests "${filter[@]}" --gtest_output=json:"$WORK/gtest/$t.json"; r=$?
      local listed; listed=$(LD_LIBRARY_PATH="$DUOGEN_GPU_LIBRARY_PATH" "$BUNDLE/libexec/$t" --gtest_list_tests "${filter[@]}" 2>/dev/null | grep -c '^  ')
      note "$t: loads, lists $listed tests (rc $r)"
      ((r == 0 && listed > 0)) || rc=1
      continue
    fi
    local mark; mark=$(wc -l <"$LOG")
    run_cmd "$BUNDLE/bin/$t" --gtest_color=no "${filter[@]}" --gtest_output=json:"$WORK/gtest/$t.json"; r=$?
    local counts; counts="$(tail -n +"$((mark + 1))" "$LOG" | gtest_counts_from_stdin)"
    note "$t: rc $r, $counts"
    ((r == 0)) || rc=1
    # On the GPU machine a skipped kernel test means CUDA was not seen: that is a failure here.
    if [[ $t == test_kernels && "$counts" != *", 0 skipped" ]]; then note "FAILED: test_kernels skipped tests on the GPU machine"; rc=1; fi
  done
  return $rc
}
gtest_counts_from_stdin() {  # a gtest run's output -> "N passed, N failed, N skipped"
  local text p f s; text="$(cat)"
  p=$(grep -oE '^\[  PASSED  \] [0-9]+' <<<"$text" | tail -1 | grep -oE '[0-9]+$')
  f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' <<<"$text" | tail -1 | grep -oE '[0-9]+')
  s=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' <<<"$text" | tail -1 | grep -oE '[0-9]+')
  echo "${p:-0} passed, ${f:-0} failed, ${s:-0} skipped"
}

# ---- memcheck ------------------------------------------------------------------------------------
find_sanitizer() {
  local c
  for c in "$(command -v compute-sanitizer 2>/dev/null)" /usr/local/cuda/bin/compute-sanitizer \
           /usr/local/cuda-*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer; do
    [[ -n "$c" && -x "$c" ]] && { echo "$c"; return 0; }
  done
  return 1
}
step_memcheck() {
  local cs listed r
  listed=$(LD_LIBRARY_PATH="$DUOGEN_GPU_LIBRARY_PATH" "$BUNDLE/libexec/test_kernels" --gtest_list_tests --gtest_filter="$MEMCHECK_FILTER" 2>/dev/null | grep -c '^  ')
  note "filter $MEMCHECK_FILTER selects $listed tests"
  ((listed > 0)) || { note "FAILED: the memcheck filter selects no test"; return 1; }
  cs="$(find_sanitizer)" || cs=""
  # The caching allocator would hide out-of-bounds accesses inside its blocks: off for memcheck.
  local cmd=(env PYTORCH_NO_CUDA_MEMORY_CACHING=1 LD_LIBRARY_PATH="$DUOGEN_GPU_LIBRARY_PATH"
             "${cs:-compute-sanitizer}" --tool memcheck --leak-check no --report-api-errors no
             --error-exitcode 86 --print-limit 30 "$BUNDLE/libexec/test_kernels" --gtest_color=no
             --gtest_filter="$MEMCHECK_FILTER" --gtest_output=json:"$WORK/gtest/memcheck_test_kernels.json")
  PLANNED+=("${cmd[*]}")
  if ((DRY)); then
    echo "would run: ${cmd[*]}" >>"$LOG"
    note "compute-sanitizer on this machine: ${cs:-none}"
    return 0
  fi
  [[ -n "$cs" ]] || { note "compute-sanitizer not found"; return 77; }
  run_cmd "${cmd[@]}"; r=$?
  local summary; summary="$(grep -E 'ERROR SUMMARY' "$LOG" | tail -1)"
  note "rc $r; ${summary:-no ERROR SUMMARY line}"
  grep -q "Device not supported" "$LOG" && { note "compute-sanitizer refused the device (gVisor runtime?)"; return 77; }
  ((r == 86)) && note "FAILED: memcheck found errors (see memcheck.log)"
  return $r
}

# ---- bench_kernels -------------------------------------------------------------------------------
step_bench_kernels() {
  local r
  PLANNED+=("$BUNDLE/bin/bench_kernels --dtype bf16 --iters 20 --table-out $OUT_DIR/attention_table.json")
  if ((DRY)); then
    run_cmd "$BUNDLE/bin/bench_kernels" --help; r=$?
    grep -q "usage: bench_kernels" "$LOG" && ((r == 2)) && { note "bench_kernels loads (usage, rc 2)"; return 0; }
    note "FAILED: bench_kernels --help gave rc $r"; return 1
  fi
  run_cmd "$BUNDLE/bin/bench_kernels" --dtype bf16 --iters 20 --table-out "$OUT_DIR/attention_table.json"; r=$?
  mapfile -t STEP_RESULTS < <(grep -E '^(device:|shape |ratio =|[a-z].* (ok|below)$)' "$LOG")
  note "rc $r; $(grep -cE ' ok$' "$LOG") shapes at or above the best SDPA, $(grep -cE ' below$' "$LOG") below"
  return $r
}

# ---- bench_e2e -----------------------------------------------------------------------------------
step_bench_e2e() {
  # bench_e2e.py's own default dir: a second run on the same machine reuses the models.
  local r models="/tmp/duogen-e2e-real"
  # shellcheck disable=SC2206
  local cmd=("${PY:-python3}" -u "$BUNDLE/tools/bench/bench_e2e.py" --preset real --device cuda --dtype bf16
             --bench-binary "$BUNDLE/bin/bench_e2e" --models-dir "$models" $E2E_ARGS)
  # The table bench_kernels just measured, so that every call site runs its fastest backend.
  [[ -f "$OUT_DIR/attention_table.json" ]] && cmd+=(--attention-table "$OUT_DIR/attention_table.json")
  PLANNED+=("PYTHONPATH=<the bundle's diffusers, if the machine has none> ${cmd[*]}")
  if ((DRY)); then
    echo "would run: ${cmd[*]}" >>"$LOG"
    run_cmd "$BUNDLE/bin/bench_e2e" --help; r=$?
    ((r == 0)) || { note "FAILED: bench_e2e --help gave rc $r"; return 1; }
    note "bench_e2e loads (--help, rc 0)"
    if [[ -n "$PY" ]]; then
      run_cmd "$PY" -m py_compile "$BUNDLE"/tools/bench/bench_e2e.py "$BUNDLE"/tools/bench/bench_dit.py \
        "$BUNDLE"/tools/bench/bench_mllm.py "$BUNDLE"/tools/bench/bench_vae.py || { note "FAILED: bench scripts do not compile"; return 1; }
      note "bench scripts compile"
    fi
    return 0
  fi
  ((E2E_PY_OK)) || { note "skipped: no transformers + diffusers for the models and the reference side"; return 77; }
  # Offline: the machine reaches nothing, and a hub lookup would only wait for a timeout.
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONPATH="$PYPATH${PYTHONPATH:+:$PYTHONPATH}" \
    run_cmd "${cmd[@]}"; r=$?
  mapfile -t STEP_RESULTS < <(grep -E '^(\||preset |attention backends|  [a-z_]+: )' "$LOG")
  note "rc $r; $(grep -c '"impl": "duogen"' "$LOG") duogen and $(grep -c '"impl": "reference"' "$LOG") reference measurements"
  return $r
}

# ---- the run -------------------------------------------------------------------------------------
echo "device_check.sh ($MODE): bundle ${BUNDLE:-none}, results in $OUT_DIR, budget ${TOTAL_BUDGET}s"
FAILED=0
HAVE_ENV=0
for step in "${STEPS[@]}"; do
  LOG="$OUT_DIR/$step.log"; : >"$LOG"
  STEP_NOTES=(); STEP_RESULTS=(); STEP_CMDS=(); PLANNED=()
  if [[ -n "$ONLY" && ",$ONLY," != *",$step,"* && "$step" != relocate ]]; then
    record "$step" skipped 0 0; printf '  %-14s %-11s (not in --only)\n' "$step" skipped; continue
  fi
  # A failed library check does not stop the rest; no torch at all (no library path) does.
  if [[ "$step" != relocate && $HAVE_ENV == 0 ]]; then
    note "skipped: no torch found, so no library path for our binaries"; record "$step" skipped 0 0
    printf '  %-14s %-8s\n' "$step" skipped; continue
  fi
  elapsed=$(($(date +%s) - START))
  budget=${BUDGET[$step]}
  ((budget > TOTAL_BUDGET - elapsed)) && budget=$((TOTAL_BUDGET - elapsed))
  if ((budget < 5)); then note "skipped: the total budget is spent"; record "$step" skipped 0 0; continue; fi
  STEP_DEADLINE=$(($(date +%s) + budget))
  t0=$(date +%s.%N)
  echo "== $step ($MODE, budget ${budget}s) $(date -u +%H:%M:%S)" >>"$LOG"
  "step_$step"; rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  case $rc in
    0) status=ok ;;
    77) status=unavailable ;;
    124|137) status=timeout; note "out of time after ${budget}s" ;;
    *) status=failed ;;
  esac
  [[ $status == failed || $status == timeout ]] && FAILED=1
  record "$step" "$status" "$rc" "$secs"
  printf '  %-14s %-11s rc %-4s %6ss / %ss\n' "$step" "$status" "$rc" "$secs" "$budget"
  for n in "${STEP_NOTES[@]}"; do printf '      %s\n' "$n"; done
  if ((DRY)); then for c in "${PLANNED[@]}"; do printf '      would run (within %ss): %s\n' "$budget" "$c"; done; fi
  if [[ $status == failed || $status == timeout ]]; then
    excerpt="$(grep -E 'RELOCATION FAILED|^\[  FAILED  \]|[Ee]rror:|ERROR SUMMARY|Traceback|not found|failed with|what\(\)' "$LOG" | grep -v '^\$ ' | head -8)"
    [[ -n "$excerpt" ]] || excerpt="$(grep -v '^  note: ' "$LOG" | tail -3)"
    sed 's/^/      | /' <<<"$excerpt"
  fi
done

# All gtest reports in one file (the device tool brings back at most 8 files).
PYM="${DUOGEN_GPU_PYTHON:-$(command -v python3)}"
if [[ -n "$PYM" ]] && compgen -G "$WORK/gtest/*.json" >/dev/null; then
  "$PYM" - "$WORK/gtest" "$OUT_DIR/cuda_tests.json" <<'PY' || true
import json, pathlib, sys
merged = {}
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    try:
        merged[p.stem] = json.loads(p.read_text())
    except ValueError as e:
        merged[p.stem] = {"unreadable": str(e)}
pathlib.Path(sys.argv[2]).write_text(json.dumps(merged, indent=1))
PY
fi
write_summary
for step in bench_kernels bench_e2e; do
  if grep -qE '^(\||shape )' "$OUT_DIR/$step.log" 2>/dev/null && ((!DRY)); then
    echo "--- $step"; grep -E '^(device:|shape |ratio =|[a-z].* (ok|below)$|\||preset |attention backends|  [a-z_]+: )' "$OUT_DIR/$step.log"
  fi
done
echo "device_check.sh: $( ((FAILED)) && echo "some steps FAILED" || echo "no step failed"); $(($(date +%s) - START))s; $OUT_DIR/summary.json"
exit $FAILED
