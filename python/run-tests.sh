#!/usr/bin/env bash
# Builds and installs the Python package with `pip install .` into a virtual environment, installs
# the test dependencies, and runs pytest on python/tests. Exits 0 when everything passed or
# skipped (skips print their reasons).
#
#   GANLOSS_PY_VENV=DIR    the virtual environment (default build-py/venv; "none": the current
#                          python, as it is)
#   GANLOSS_PY_TORCH=0|1   install PyTorch and run its tests (default 1): the CPU-only wheel
#                          from download.pytorch.org where that is reachable, else PyPI's,
#                          which pulls some 5 GB of CUDA libraries (3.5 to 5 minutes here)
#   GANLOSS_PY_CUDA=ON|OFF build the CUDA backend (default: ON when nvidia-smi sees a GPU)
#   GANLOSS_PY_ISOLATED=1  build in pip's isolated build environment, from pyproject.toml's
#                          [build-system] requirements and jaxlib (GANLOSS_JAX=1) (default: the
#                          venv's own copies of the same packages, installed first, with the
#                          jaxlib of jax[cpu]; saves a second jaxlib download)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

venv=${GANLOSS_PY_VENV:-build-py/venv}
if [[ $venv != none ]]; then
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
fi
python=$(command -v python)

if [[ -z ${GANLOSS_PY_CUDA:-} ]]; then
  if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
    GANLOSS_PY_CUDA=ON
  else
    GANLOSS_PY_CUDA=OFF
  fi
fi

started=$SECONDS
mkdir -p build-py
# PyTorch downloads for minutes: let it run beside the build, which is busy compiling. The two
# installs share no package.
torch_pid=
if [[ ${GANLOSS_PY_TORCH:-1} == 1 ]]; then
  {
    "$python" -m pip install -q --retries 0 --timeout 10 torch \
      --index-url https://download.pytorch.org/whl/cpu ||
      "$python" -m pip install -q torch
  } > build-py/pip-torch.log 2>&1 &
  torch_pid=$!
fi
"$python" -m pip install -q pytest numpy "jax[cpu]"
isolation=()
if [[ ${GANLOSS_PY_ISOLATED:-0} == 1 ]]; then
  # jaxlib in the isolated build environment, for the JAX integration's headers.
  export GANLOSS_JAX=1
else
  # The [build-system] requirements of pyproject.toml (jaxlib comes with jax[cpu]).
  "$python" -m pip install -q "scikit-build-core>=0.10" "nanobind>=2.2"
  isolation=(--no-build-isolation)
fi
echo "== pip install . (CUDA backend: $GANLOSS_PY_CUDA)"
build_started=$SECONDS
# -v shows the build's progress; only CMake's summary and ninja's [n/N] lines are kept.
set +e
"$python" -m pip install -v "${isolation[@]}" . \
  -C cmake.define.GANLOSS_ENABLE_CUDA="$GANLOSS_PY_CUDA" 2>&1 | tee build-py/pip-install.log |
  grep --line-buffered -E '^ *(\[[0-9]+/[0-9]+\]|-- ganloss|\*\*\* )|^Successfully'
status=${PIPESTATUS[0]}
set -e
if [[ $status != 0 ]]; then
  tail -n 60 build-py/pip-install.log
  exit "$status"
fi
echo "== built and installed in $((SECONDS - build_started)) s"
if [[ -n $torch_pid ]]; then
  wait "$torch_pid" || { cat build-py/pip-torch.log; exit 1; }
fi
echo "== installed in $((SECONDS - started)) s"

# From outside the checkout, so that `import ganloss` is the installed package.
cd "$root/python/tests"
"$python" -m pytest -q -rs -p no:cacheprovider .
