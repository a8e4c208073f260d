# Sourced (POSIX sh) by the bundle's bin/* wrappers and by tools/gpu/device_check.sh; bundle.sh
# copies it into the bundle. Finds the machine's torch and sets DUOGEN_GPU_LIBRARY_PATH, the
# library path our binaries run with: the bundle's lib/ (lib/compat too where the machine's
# libstdc++ is older than our binaries need), torch/lib, then the NVIDIA wheels' lib dirs
# (cudart, cuBLAS, cuDNN, ...). Only our binaries get it: Python keeps the machine's own libraries.
#
# In:  DUOGEN_GPU_BUNDLE (else the wrapper's $here/..), DUOGEN_PYTHON (a python with torch),
#      DUOGEN_TORCH_DIR (torch's package dir, skips the search)
# Out: DUOGEN_GPU_LIBRARY_PATH, DUOGEN_GPU_TORCH_DIR, DUOGEN_GPU_PYTHON, DUOGEN_GPU_COMPAT (0|1)
DUOGEN_GPU_BUNDLE="${DUOGEN_GPU_BUNDLE:-$(cd "${here:-.}/.." && pwd)}"
. "$DUOGEN_GPU_BUNDLE/bundle.env" || return 1 2>/dev/null || exit 1

DUOGEN_GPU_PYTHON=""
if [ -z "${DUOGEN_TORCH_DIR:-}" ]; then
  for _py in ${DUOGEN_PYTHON:-} python3 /opt/torch/.venv/bin/python3 "$BUNDLE_SOURCE_DIR/.venv/bin/python"; do
    command -v "$_py" >/dev/null 2>&1 || continue
    # find_spec: no import (importing torch would load its CUDA libraries and take seconds).
    _t="$("$_py" -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null)" || _t=""
    if [ -n "$_t" ] && [ -f "$_t/lib/libtorch_cpu.so" ]; then
      DUOGEN_TORCH_DIR="$_t"; DUOGEN_GPU_PYTHON="$(command -v "$_py")"; break
    fi
  done
fi
# No python with torch: the torch the bundle was built against, where it exists (the build machine).
if [ -z "${DUOGEN_TORCH_DIR:-}" ] && [ -f "${BUNDLE_TORCH_ROOT:-/nonexistent}/lib/libtorch_cpu.so" ]; then
  DUOGEN_TORCH_DIR="$BUNDLE_TORCH_ROOT"
fi
if [ -z "${DUOGEN_TORCH_DIR:-}" ] || [ ! -f "$DUOGEN_TORCH_DIR/lib/libtorch_cpu.so" ]; then
  echo "duogen GPU bundle: no torch found (tried \$DUOGEN_PYTHON, python3, /opt/torch/.venv/bin/python3); set DUOGEN_PYTHON or DUOGEN_TORCH_DIR" >&2
  return 1 2>/dev/null || exit 1
fi
DUOGEN_GPU_TORCH_DIR="$DUOGEN_TORCH_DIR"

_path="$DUOGEN_GPU_BUNDLE/lib"
# Our binaries import GLIBCXX up to $BUNDLE_GLIBCXX_NEED (gcc 12's libstdc++); the machine's may be
# older. Then the bundled one (which torch's libraries also accept) goes in front.
DUOGEN_GPU_COMPAT=0
_stdcxx="$("$(command -v ldconfig 2>/dev/null || echo /sbin/ldconfig)" -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')"
[ -n "$_stdcxx" ] || for _c in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /lib64/libstdc++.so.6; do
  [ -f "$_c" ] && { _stdcxx="$_c"; break; }
done
if [ -f "$DUOGEN_GPU_BUNDLE/lib/compat/libstdc++.so.6" ]; then
  if [ -z "$_stdcxx" ] || ! grep -aq "${BUNDLE_GLIBCXX_NEED:-GLIBCXX_3.4}" "$_stdcxx" ||
     ! grep -aq "${BUNDLE_CXXABI_NEED:-CXXABI_1.3}" "$_stdcxx"; then
    DUOGEN_GPU_COMPAT=1
    _path="$_path:$DUOGEN_GPU_BUNDLE/lib/compat"
  fi
fi
_path="$_path:$DUOGEN_TORCH_DIR/lib"
_site="$(dirname "$DUOGEN_TORCH_DIR")"
for _d in "$_site"/nvidia/cu13/lib "$_site"/nvidia/*/lib "$_site"/nvidia/*/lib64; do
  [ -d "$_d" ] || continue
  case ":$_path:" in *":$_d:"*) ;; *) _path="$_path:$_d" ;; esac
done
DUOGEN_GPU_LIBRARY_PATH="$_path"
DUOGEN_GPU_STDCXX="$_stdcxx"
export DUOGEN_GPU_BUNDLE DUOGEN_GPU_LIBRARY_PATH DUOGEN_GPU_TORCH_DIR DUOGEN_GPU_PYTHON DUOGEN_GPU_COMPAT DUOGEN_GPU_STDCXX
unset _py _t _path _stdcxx _c _site _d
