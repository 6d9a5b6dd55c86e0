#!/usr/bin/env bash
# The kernel resource report: compiles every kernels/*.cu to machine code for one architecture
# (sm_90 by default) with the flags the CMake build gives nvcc, and prints per kernel its
# registers, stack, spills, static shared memory, theoretical occupancy at its block size and
# SASS instructions per logit of its main vector loop (scripts/kernel_report.py says how each
# is measured). No GPU needed: nvcc, cuobjdump and c++filt.
#
#   scripts/kernel-report.sh [--check] [--json FILE] [--markdown FILE] [--arch sm_90] [--out DIR]
#                            [-j N] [FILE.cu...]
#
#   --check     exit 1 when a kernel misses a target (docs/benchmarks.md), naming each offender
#   --json      also write the table as JSON
#   --markdown  also write the per-instantiation table of docs/benchmarks.md as Markdown
#   --arch      the architecture to compile for and whose occupancy limits apply
#   --out       where the cubins and the tools' output go (default build-report/kernel-report)
#   -j          compiles at once (default: the number of cores, at most the number of files)
#   FILE.cu     the kernel files to report (default: every kernels/*.cu)
#
# Only device code is compiled (nvcc -cubin: no host compile, no PTX), each file once, in
# parallel: today's five files take about 500 s of CPU time, nearly all of it ptxas, so 4 to 5
# minutes on two idle cores.
# cuobjdump comes from the CUDA toolkit or from PyPI (nvidia-cuda-cuobjdump, which
# scripts/install-deps.sh installs where the toolkit lacks it): this script looks on PATH, in
# the toolkit beside nvcc, then in the Python package's nvidia/cu13/bin (installed into the
# current Python, or into .cache/cuda-tools where that Python is externally managed).
set -euo pipefail
cd "$(dirname "$0")/.."

arch=sm_90
out=build-report/kernel-report
parallel=$(nproc)
report_args=()
sources=()
while (($#)); do
  case $1 in
    --check) report_args+=(--check) ;;
    --json)
      report_args+=(--json "$2")
      shift
      ;;
    --markdown)
      report_args+=(--markdown "$2")
      shift
      ;;
    --arch)
      arch=$2
      shift
      ;;
    --out)
      out=$2
      shift
      ;;
    -j)
      parallel=$2
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *.cu) sources+=("$1") ;;
    *)
      echo "kernel-report: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done
[[ $arch =~ ^sm_[0-9]+a?$ ]] || { echo "kernel-report: --arch wants sm_<digits>, got '$arch'" >&2; exit 2; }

# A tool on PATH, beside nvcc, or in the PyPI package's nvidia/cu13/bin.
find_tool() {
  local name=$1 dir
  if command -v "$name" >/dev/null; then
    command -v "$name"
    return
  fi
  dir=$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")
  if [[ -x $dir/$name ]]; then
    echo "$dir/$name"
    return
  fi
  dir=$(python3 -c 'import nvidia.cu13 as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  for dir in "$dir" .cache/cuda-tools/nvidia/cu13; do
    if [[ -n $dir && -x $dir/bin/$name ]]; then
      echo "$dir/bin/$name"
      return
    fi
  done
  return 1
}

nvcc=$(find_tool nvcc) || { echo "kernel-report: nvcc not found (the CUDA toolkit)" >&2; exit 2; }
cuobjdump=$(find_tool cuobjdump) ||
  { echo "kernel-report: cuobjdump not found: pip install nvidia-cuda-cuobjdump (scripts/install-deps.sh does)" >&2; exit 2; }

((${#sources[@]})) || sources=(kernels/*.cu)
if [[ ! -e ${sources[0]} ]]; then
  echo "kernel-report: no ${sources[0]}" >&2
  exit 2
fi
((parallel > ${#sources[@]})) && parallel=${#sources[@]}
((parallel < 1)) && parallel=1
mkdir -p "$out"
# Only what an earlier report wrote goes: --out may name a folder holding other files.
rm -f "$out"/*.cubin "$out"/*.ptxas.log "$out"/*.res.txt "$out"/*.sass.txt "$out"/*.elf.txt \
  "$out"/*.ok

# The CMake build's nvcc flags for the kernels (cmake/GanlossCompilerFlags.cmake,
# cmake/GanlossCuda.cmake, kernels/CMakeLists.txt) for one real architecture, plus -Xptxas -v
# for the spills. Warnings are errors there, so they are here.
flags=(-std=c++17 -O3 -DNDEBUG -Ikernels -Iinclude -Werror all-warnings
  "-gencode=arch=compute_${arch#sm_},code=$arch" -Xptxas -v)

# compile FILE: the cubin, and the tools' text output the report reads, named after FILE.
compile() {
  local src=$1 stem
  stem=$(basename "$src" .cu)
  if ! "$nvcc" "${flags[@]}" -cubin "$src" -o "$out/$stem.cubin" >"$out/$stem.ptxas.log" 2>&1; then
    echo "kernel-report: $src does not compile:" >&2
    cat "$out/$stem.ptxas.log" >&2
    return 1
  fi
  "$cuobjdump" -res-usage "$out/$stem.cubin" >"$out/$stem.res.txt"
  "$cuobjdump" -sass "$out/$stem.cubin" >"$out/$stem.sass.txt"
  "$cuobjdump" -elf "$out/$stem.cubin" >"$out/$stem.elf.txt"
  touch "$out/$stem.ok"
}

python3 scripts/kernel_report.py --self-test >/dev/null

start=$SECONDS
echo "kernel-report: compiling ${#sources[@]} files for $arch, $parallel at a time ($nvcc)"
for src in "${sources[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do
    wait -n || true  # the status is read from the .ok files below
  done
  compile "$src" &
done
wait
for src in "${sources[@]}"; do
  [[ -f $out/$(basename "$src" .cu).ok ]] || exit 1
done
echo "kernel-report: compiled in $((SECONDS - start)) s"

python3 scripts/kernel_report.py "$out" --sources kernels --arch "$arch" "${report_args[@]}"
