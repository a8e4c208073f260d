#!/usr/bin/env bash
# Builds (optionally) and bundles what the lent GPU machine needs to run duogen's device check
# (tools/gpu/device_check.sh): our CUDA binaries, the shared libraries the device lacks, the
# Python bench scripts, diffusers and the Qwen tokenizer, with a manifest. See tools/gpu/README.md.
#
#   tools/gpu/bundle.sh [--build-dir build] [--out gpu-bundle] [--no-build] [--ffmpeg stub|full]
#                       [--max-mib 64] [--require-cuda] [--[no-]travel-check]
#
# Without --no-build it runs `cmake --build <dir> --target <targets>`; the build dir must already
# be configured, with CUDA (DUOGEN_CUDA=AUTO finds /usr/local/cuda/bin/nvcc; the kernels then
# compile for sm_80 and sm_90a). A build without CUDA still bundles (CI's dry run needs only that
# the bundle loads), with a warning: its binaries have no kernels to check on the device.
#
# Not bundled, on purpose: libtorch/c10 and every CUDA library (cudart, cuBLAS, cuDNN, NCCL...):
# the device's own torch provides them (tools/gpu/env.sh finds them); glibc (the device's is
# newer); libstdc++/libgcc_s go to lib/compat, used only where the device's are too old.
# FFmpeg (+ its ~150 MB of codec libraries) is replaced by stubs by default (--ffmpeg stub): no
# step of the device check reads or writes video, and a stubbed call aborts with a message.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$REPO/build"
OUT_DIR="$REPO/gpu-bundle"
DO_BUILD=1
FFMPEG=stub
MAX_MIB=64
TRAVEL_MIB=64  # what one `run` call may send: working tree + carried paths
REQUIRE_CUDA=0
TRAVEL_CHECK=auto  # auto: when --out lies inside the repo (then it is what `run` would carry)

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --build-dir) BUILD="$2"; shift 2 ;;
    --out) OUT_DIR="$2"; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --ffmpeg) FFMPEG="$2"; shift 2 ;;
    --max-mib) MAX_MIB="$2"; shift 2 ;;
    --require-cuda) REQUIRE_CUDA=1; shift ;;
    --travel-check) TRAVEL_CHECK=1; shift ;;
    --no-travel-check) TRAVEL_CHECK=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bundle.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$FFMPEG" == stub || "$FFMPEG" == full ]] || { echo "bundle.sh: --ffmpeg must be stub or full" >&2; exit 2; }
BUILD="$(cd "$BUILD" 2>/dev/null && pwd)" || { echo "bundle.sh: no build dir '$BUILD'" >&2; exit 2; }
CACHE="$BUILD/CMakeCache.txt"
[[ -f "$CACHE" ]] || { echo "bundle.sh: $BUILD is not a configured CMake build dir (no CMakeCache.txt)" >&2; exit 2; }
STUB_CC="${CC:-$(command -v gcc || command -v cc || echo gcc)}"
for tool in ldd readelf objdump objcopy strip "$STUB_CC"; do
  command -v "$tool" >/dev/null || { echo "bundle.sh: needs '$tool' on PATH" >&2; exit 2; }
done

cache_var() { grep -m1 "^$1:" "$CACHE" | sed 's/^[^=]*=//' || true; }
SOURCE_DIR="$(cache_var CMAKE_HOME_DIRECTORY)"
TORCH_ROOT="$(cache_var DUOGEN_TORCH_ROOT)"
TOKENIZER_DIR="$(cache_var DUOGEN_QWEN_TOKENIZER_DIR)"
SITE="$(dirname "$TORCH_ROOT")"

# name (in the bundle) : path relative to the build dir : required?
TARGETS=(duogen_cli test_kernels test_core test_cli bench_kernels bench_e2e)
BINARIES=(
  "duogen:duogen:1"
  "test_kernels:tests/test_kernels:1"
  "test_core:tests/test_core:1"
  "test_cli:tests/test_cli:0"
  "bench_kernels:tools/bench/bench_kernels:1"
  "bench_e2e:tools/bench/bench_e2e:1"
)

if ((DO_BUILD)); then
  echo "bundle.sh: cmake --build $BUILD --target ${TARGETS[*]}"
  cmake --build "$BUILD" --target "${TARGETS[@]}"
fi

# ---- fresh output dir --------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT_DIR")"
case "$(cd "$(dirname "$OUT_DIR")" && pwd)/$(basename "$OUT_DIR")" in
  /|"$REPO"|"$BUILD"|"$SOURCE_DIR") echo "bundle.sh: refusing to use '$OUT_DIR' as the output dir" >&2; exit 2 ;;
esac
if [[ -e "$OUT_DIR" && ! -f "$OUT_DIR/.duogen-gpu-bundle" && -n "$(ls -A "$OUT_DIR" 2>/dev/null)" ]]; then
  echo "bundle.sh: $OUT_DIR exists, is not empty and is no bundle (no .duogen-gpu-bundle): not overwriting it" >&2
  exit 2
fi
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"/{bin,libexec,lib/compat,tools/bench,py,data}
touch "$OUT_DIR/.duogen-gpu-bundle"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
NOTES=()
note() { NOTES+=("$1"); echo "bundle.sh: $1"; }

# ---- our binaries ------------------------------------------------------------------------------
ELFS=()
HAS_CUDA=1
for entry in "${BINARIES[@]}"; do
  IFS=: read -r name rel required <<<"$entry"
  src="$BUILD/$rel"
  if [[ ! -x "$src" ]]; then
    if [[ "$required" == 1 ]]; then
      echo "bundle.sh: missing $src (build target of '$name'; run without --no-build)" >&2
      exit 2
    fi
    note "optional binary $rel not built: skipped"
    continue
  fi
  cp "$src" "$OUT_DIR/libexec/$name"
  strip --strip-unneeded "$OUT_DIR/libexec/$name"
  # (grep -c, not -q: with pipefail, -q's early exit can fail readelf with SIGPIPE)
  if [[ "$name" != duogen && "$(readelf -S "$src" | grep -c '\.nv_fatbin' || true)" == 0 ]]; then
    [[ "$name" == test_kernels || "$name" == bench_kernels ]] && HAS_CUDA=0
  fi
  # The wrapper the device check runs: our libraries first, then the device's torch and CUDA.
  cat >"$OUT_DIR/bin/$name" <<EOF
#!/bin/sh
# Runs libexec/$name with the bundle's libraries and the device's torch (tools/gpu/env.sh).
here="\$(dirname "\$(readlink -f "\$0")")"
[ -n "\${DUOGEN_GPU_LIBRARY_PATH:-}" ] || . "\$here/../env.sh" || exit 127
LD_LIBRARY_PATH="\$DUOGEN_GPU_LIBRARY_PATH" exec "\$here/../libexec/$name" "\$@"
EOF
  chmod +x "$OUT_DIR/bin/$name"
  ELFS+=("$src")
done
if ((!HAS_CUDA)); then
  if ((REQUIRE_CUDA)); then
    echo "bundle.sh: $BUILD was built without CUDA kernels (no .nv_fatbin in test_kernels); configure with -DDUOGEN_CUDA=ON" >&2
    exit 3
  fi
  note "WARNING: built without CUDA kernels: fine for the CPU dry run, useless on the device (configure the build with CUDA)"
fi

# ---- shared libraries: the NEEDED closure, less glibc, torch and CUDA --------------------------
# Path of every library as this machine resolves it (ldd follows our RUNPATH to the venv torch).
declare -A WHERE=()
for f in "${ELFS[@]}"; do
  while read -r lname arrow lpath _; do
    [[ "$arrow" == "=>" && "$lpath" == /* ]] && WHERE[$lname]="$lpath"
  done < <(ldd "$f" 2>/dev/null)
done
is_glibc() {
  case "$1" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libutil.so.*|libresolv.so.*|\
    libanl.so.*|libnsl.so.*|libmvec.so.*|ld-linux*.so.*|linux-vdso.so.*) return 0 ;;
  esac
  return 1
}
is_compat() { [[ "$1" == libstdc++.so.6 || "$1" == libgcc_s.so.1 ]]; }
is_torch_or_cuda() {  # provided by the device's torch wheel and the NVIDIA wheels / driver
  local name="$1" path="${WHERE[$1]:-}"
  [[ -n "$path" && ( "$path" == "$SITE"/* || "$path" == /usr/local/cuda* ) ]] && return 0
  case "$name" in
    libtorch*|libc10*|libcuda.so.*|libnvidia-*|libcudart.so.*|libcublas*|libcudnn*|libnccl*|\
    libcufft*|libcurand*|libcusparse*|libcusolver*|libnvJitLink*|libnvrtc*|libcupti*|libnvshmem*|\
    libcufile*|libnvToolsExt*|libgomp*) return 0 ;;
  esac
  return 1
}
is_ffmpeg() { [[ "$1" =~ ^lib(avformat|avcodec|avutil|swscale|swresample|avfilter|avdevice|postproc)\.so\. ]]; }
needed_of() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

declare -A SEEN=() BUNDLED=() STUBBED=()
queue=()
for f in "${ELFS[@]}"; do mapfile -t -O "${#queue[@]}" queue < <(needed_of "$f"); done
while ((${#queue[@]})); do
  lib="${queue[0]}"; queue=("${queue[@]:1}")
  [[ -n "${SEEN[$lib]:-}" ]] && continue
  SEEN[$lib]=1
  if is_glibc "$lib" || is_torch_or_cuda "$lib"; then continue; fi
  if is_compat "$lib"; then
    [[ -n "${WHERE[$lib]:-}" ]] && cp -L "${WHERE[$lib]}" "$OUT_DIR/lib/compat/$lib"
    continue
  fi
  if [[ "$FFMPEG" == stub ]] && is_ffmpeg "$lib"; then STUBBED[$lib]=1; continue; fi
  path="${WHERE[$lib]:-}"
  if [[ -z "$path" ]]; then
    echo "bundle.sh: cannot resolve $lib on this machine (ldd says not found)" >&2
    exit 4
  fi
  cp -L "$path" "$OUT_DIR/lib/$lib"
  chmod u+w "$OUT_DIR/lib/$lib"
  strip --strip-unneeded "$OUT_DIR/lib/$lib" 2>/dev/null || true
  BUNDLED[$lib]="$path"
  mapfile -t -O "${#queue[@]}" queue < <(needed_of "$path")
done
[[ -n "$(ls -A "$OUT_DIR/lib/compat")" ]] && strip --strip-unneeded "$OUT_DIR"/lib/compat/* 2>/dev/null || true

# ---- FFmpeg stubs: every symbol our binaries import from it, defined as "abort with a message" --
STUB_SYMBOLS=0
if ((${#STUBBED[@]})); then
  stubdir="$(mktemp -d)"
  trap 'rm -rf "$stubdir"' EXIT
  for lib in "${!STUBBED[@]}"; do
    base="${lib%%.so.*}"; major="${lib##*.so.}"; major="${major%%.*}"
    tag="$(echo "$base" | tr '[:lower:]' '[:upper:]')_$major"   # libavcodec.so.59 -> LIBAVCODEC_59
    real="${WHERE[$lib]:-}"
    c="$stubdir/$base.c"; map="$stubdir/$base.map"
    printf '#include <stdio.h>\n#include <stdlib.h>\nstatic void fail(const char* s) {\n  fprintf(stderr, "duogen GPU bundle: %%s() of %s called, but the bundle carries an FFmpeg stub (no video I/O in the device check; bundle with --ffmpeg full for it)\\n", s);\n  abort();\n}\n' "$lib" >"$c"
    syms=()
    # "<addr> <flags> DF *UND* <size> (TAG) name": functions (DF) and objects (DO) from this lib.
    while read -r kind sym; do
      [[ " ${syms[*]} " == *" $sym "* ]] && continue
      syms+=("$sym")
      if [[ "$kind" == DF ]]; then
        printf 'void %s(void) { fail("%s"); }\n' "$sym" "$sym" >>"$c"
      else
        size=64
        [[ -n "$real" ]] && size=$(objdump -T "$real" | awk -v s="$sym" '$NF==s && $0 !~ /UND/ && !n++ {print strtonum("0x"$(NF-2))}')
        printf 'char %s[%s] = {0};\n' "$sym" "${size:-64}" >>"$c"
      fi
    done < <(for f in "${ELFS[@]}"; do objdump -T "$f" | awk -v t="($tag)" '/\*UND\*/ && $(NF-1)==t {print $2, $NF}'; done)
    { echo "$tag {"; echo "  global:"; for s in "${syms[@]}"; do echo "    $s;"; done; echo "  local: *;"; echo "};"; } >"$map"
    "$STUB_CC" -shared -fPIC -O1 -w -Wl,-soname,"$lib" -Wl,--version-script,"$map" -o "$OUT_DIR/lib/$lib" "$c"
    strip --strip-unneeded "$OUT_DIR/lib/$lib"
    STUB_SYMBOLS=$((STUB_SYMBOLS + ${#syms[@]}))
  done
  note "FFmpeg stubbed (${!STUBBED[*]}): $STUB_SYMBOLS imported symbols abort with a message if called"
fi

# ---- bench scripts, diffusers, tokenizer --------------------------------------------------------
for py in bench_e2e.py bench_dit.py bench_mllm.py bench_vae.py; do
  cp "$SOURCE_DIR/tools/bench/$py" "$OUT_DIR/tools/bench/$py"
done
# The device's image has transformers but no diffusers (KINDS.md): carry the build venv's
# pure-Python copy, unpacked there only if `import diffusers` fails.
DIFFUSERS_VERSION=""
dist=$(ls -d "$SITE"/diffusers-*.dist-info 2>/dev/null | head -1 || true)
if [[ -d "$SITE/diffusers" && -n "$dist" ]]; then
  DIFFUSERS_VERSION="$(basename "$dist" .dist-info)"; DIFFUSERS_VERSION="${DIFFUSERS_VERSION#diffusers-}"
  # xz: 2 MiB instead of gzip's 5, which keeps working tree + bundle under a run call's 64 MiB.
  tar --exclude=__pycache__ -cJf "$OUT_DIR/py/diffusers.tar.xz" -C "$SITE" diffusers "$(basename "$dist")"
else
  note "no diffusers in $SITE: bench_e2e's reference side needs one on the device"
fi
if [[ -f "$TOKENIZER_DIR/tokenizer.json" ]]; then
  tar -czf "$OUT_DIR/data/qwen2-tokenizer.tar.gz" -C "$TOKENIZER_DIR" .
else
  note "no Qwen tokenizer at $TOKENIZER_DIR: test_cli's DeviceCli tests will be skipped on the device"
fi
cp "$REPO/tools/gpu/env.sh" "$OUT_DIR/env.sh"

# ---- facts for the device check -----------------------------------------------------------------
max_version() {  # highest GLIBCXX_/CXXABI_/GCC_ version our ELFs (and bundled libs) import
  local prefix="$1"
  for f in "$OUT_DIR"/libexec/* "$OUT_DIR"/lib/*.so*; do objdump -T "$f" 2>/dev/null; done |
    grep -o "${prefix}[0-9.]*[0-9]" | sort -uV | tail -1
}
GLIBCXX_NEED="$(max_version GLIBCXX_)"
CXXABI_NEED="$(max_version CXXABI_)"
GLIBC_NEED="$(max_version GLIBC_)"
TORCH_VERSION="$(sed -n "s/^__version__ = '\(.*\)'.*/\1/p" "$TORCH_ROOT/version.py" 2>/dev/null || true)"
CUDA_ARCHS=""
if command -v python3 >/dev/null && [[ -x "$OUT_DIR/libexec/test_kernels" ]]; then
  CUDA_ARCHS="$(python3 - "$OUT_DIR/libexec/test_kernels" <<'PY' || true
import struct, subprocess, sys, tempfile, os
# Arch of every ELF entry in the .nv_fatbin section (fatbin entry header: arch at byte 28, flags
# at byte 40; bit 0x100000 marks an arch-specific "a" target such as sm_90a).
with tempfile.TemporaryDirectory() as t:
    out = os.path.join(t, "fb")
    if subprocess.run(["objcopy", "-O", "binary", "--only-section=.nv_fatbin", sys.argv[1], out]).returncode:
        sys.exit(0)
    d = open(out, "rb").read()
archs, off = set(), 0
while off + 16 <= len(d):
    magic, _, hsz, fsz = struct.unpack_from("<IHHQ", d, off)
    if magic != 0xBA55ED50:
        off += 8
        continue
    p, end = off + hsz, off + hsz + fsz
    while p < end:
        kind, _, ehs, size = struct.unpack_from("<HHIQ", d, p)
        arch, flags = struct.unpack_from("<I", d, p + 28)[0], struct.unpack_from("<Q", d, p + 40)[0]
        archs.add(("sm_" if kind == 2 else "compute_") + str(arch) + ("a" if flags & 0x100000 else ""))
        p += ehs + size
    off = end
print(" ".join(sorted(archs)))
PY
)"
fi
GIT_COMMIT="$(git -C "$SOURCE_DIR" rev-parse HEAD 2>/dev/null || echo unknown)"
GIT_DIRTY="$( [[ -n "$(git -C "$SOURCE_DIR" status --porcelain 2>/dev/null | head -1)" ]] && echo true || echo false)"

cat >"$OUT_DIR/bundle.env" <<EOF
# Written by tools/gpu/bundle.sh; sourced by tools/gpu/device_check.sh and env.sh.
BUNDLE_SOURCE_DIR='$SOURCE_DIR'
BUNDLE_BUILD_DIR='$BUILD'
BUNDLE_TOKENIZER_DIR='$TOKENIZER_DIR'
BUNDLE_TORCH_VERSION='$TORCH_VERSION'
BUNDLE_TORCH_ROOT='$TORCH_ROOT'
BUNDLE_HAS_CUDA=$HAS_CUDA
BUNDLE_CUDA_ARCHS='$CUDA_ARCHS'
BUNDLE_FFMPEG='$FFMPEG'
BUNDLE_GLIBCXX_NEED='$GLIBCXX_NEED'
BUNDLE_CXXABI_NEED='$CXXABI_NEED'
BUNDLE_GLIBC_NEED='$GLIBC_NEED'
BUNDLE_DIFFUSERS_VERSION='$DIFFUSERS_VERSION'
BUNDLE_GIT_COMMIT='$GIT_COMMIT'
BUNDLE_BINARIES='$(ls "$OUT_DIR/libexec" | tr '\n' ' ' | sed 's/ $//')'
EOF

# ---- sizes and the manifest ---------------------------------------------------------------------
json_str() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
TOTAL=$(du -sb "$OUT_DIR" | cut -f1)
{
  echo "{"
  echo "  \"made_by\": \"tools/gpu/bundle.sh\","
  echo "  \"made_at\": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),"
  echo "  \"git_commit\": $(json_str "$GIT_COMMIT"), \"git_dirty\": $GIT_DIRTY,"
  echo "  \"build_dir\": $(json_str "$BUILD"), \"source_dir\": $(json_str "$SOURCE_DIR"),"
  echo "  \"torch_version_built_against\": $(json_str "$TORCH_VERSION"),"
  echo "  \"has_cuda\": $([[ $HAS_CUDA == 1 ]] && echo true || echo false), \"cuda_archs\": $(json_str "$CUDA_ARCHS"),"
  echo "  \"ffmpeg\": $(json_str "$FFMPEG"), \"ffmpeg_stub_symbols\": $STUB_SYMBOLS,"
  echo "  \"needs\": {\"GLIBC\": $(json_str "$GLIBC_NEED"), \"GLIBCXX\": $(json_str "$GLIBCXX_NEED"), \"CXXABI\": $(json_str "$CXXABI_NEED")},"
  echo "  \"diffusers\": $(json_str "$DIFFUSERS_VERSION"),"
  echo "  \"total_bytes\": $TOTAL, \"limit_bytes\": $((MAX_MIB * 1048576)),"
  echo "  \"notes\": ["
  for i in "${!NOTES[@]}"; do echo "    $(json_str "${NOTES[$i]}")$([[ $i -lt $((${#NOTES[@]} - 1)) ]] && echo ,)"; done
  echo "  ],"
  echo "  \"files\": ["
  mapfile -t files < <(cd "$OUT_DIR" && find . -type f ! -name manifest.json | sed 's|^\./||' | sort)
  for i in "${!files[@]}"; do
    f="${files[$i]}"; origin=""
    [[ "$f" == lib/* && -n "${BUNDLED[$(basename "$f")]:-}" ]] && origin="${BUNDLED[$(basename "$f")]}"
    [[ "$f" == lib/compat/* ]] && origin="${WHERE[$(basename "$f")]:-}"
    [[ "$f" == lib/* && -n "${STUBBED[$(basename "$f")]:-}" ]] && origin="stub"
    [[ "$f" == libexec/* ]] && origin="$(grep -o "^$(basename "$f"):[^:]*" <<<"$(printf '%s\n' "${BINARIES[@]}")" | cut -d: -f2)"
    printf '    {"path": %s, "bytes": %s, "sha256": "%s"%s}%s\n' "$(json_str "$f")" \
      "$(stat -c %s "$OUT_DIR/$f")" "$(sha256sum "$OUT_DIR/$f" | cut -c1-64)" \
      "$([[ -n "$origin" ]] && echo ", \"from\": $(json_str "$origin")")" \
      "$([[ $i -lt $((${#files[@]} - 1)) ]] && echo ,)"
  done
  echo "  ]"
  echo "}"
} >"$OUT_DIR/manifest.json"

TOTAL=$(du -sb "$OUT_DIR" | cut -f1)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
echo "bundle.sh: $OUT_DIR: $(mib "$TOTAL") MiB (limit $MAX_MIB MiB):"
for d in libexec lib lib/compat tools py data; do
  ex=(); [[ "$d" == lib ]] && ex=(--exclude=compat)
  printf '  %-11s %6s MiB  %s\n' "$d" "$(mib "$(du -sb "${ex[@]}" "$OUT_DIR/$d" | cut -f1)")" \
    "$(ls "$OUT_DIR/$d" | grep -v '^compat$' | tr '\n' ' ' | cut -c1-150)"
done
echo "  cuda: $([[ $HAS_CUDA == 1 ]] && echo "yes ($CUDA_ARCHS)" || echo no); torch built against: $TORCH_VERSION; needs $GLIBCXX_NEED, $CXXABI_NEED, $GLIBC_NEED"
if ((TOTAL > MAX_MIB * 1048576)); then
  echo "bundle.sh: the bundle is $(mib "$TOTAL") MiB, over the $MAX_MIB MiB limit" >&2
  exit 3
fi
# What a `run` call sends: the working tree (tracked + untracked, not ignored) plus the carry.
[[ "$TRAVEL_CHECK" == auto ]] && TRAVEL_CHECK=$([[ "$OUT_DIR" == "$REPO"/* ]] && echo 1 || echo 0)
if ((TRAVEL_CHECK)) && ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  echo "bundle.sh: $REPO is no git checkout: travel size not checked"
elif ((TRAVEL_CHECK)); then
  TREE=$(cd "$REPO" && git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  echo "  travels with carry=[\"${OUT_DIR#"$REPO"/}\"]: working tree $(mib "$TREE") + bundle $(mib "$TOTAL") = $(mib $((TREE + TOTAL))) MiB (limit $TRAVEL_MIB MiB)"
  if ((TREE + TOTAL > TRAVEL_MIB * 1048576)); then
    echo "bundle.sh: working tree + bundle exceed the $TRAVEL_MIB MiB a run call may send" >&2
    exit 3
  fi
  [[ "$OUT_DIR" != "$REPO"/* ]] || git -C "$REPO" check-ignore -q "$OUT_DIR" ||
    echo "bundle.sh: WARNING: $OUT_DIR is not ignored by git: it would travel as part of the tree, and carry wants ignored paths" >&2
fi
exit 0
