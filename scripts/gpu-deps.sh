#!/usr/bin/env bash
# Unpacks what a GPU machine without network lacks for scripts/gpu-validate.sh into .devdeps/
# (ignored by git, carried with the checkout): GoogleTest, Google Benchmark and Google Highway
# from Debian's packages, and cuobjdump and nvdisasm (for the kernel report) from PyPI's
# nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm. Run it once where apt-get and pip reach
# their archives, in the project root's parent or anywhere:
#
#   scripts/gpu-deps.sh
#
# gpu-validate.sh then adds .devdeps/usr to CMAKE_PREFIX_PATH, PATH and LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/.devdeps
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

packages=(libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian libhwy-dev libhwy1)
(cd "$tmp" && apt-get download "${packages[@]}" >/dev/null 2>&1) ||
  { apt-get update >/dev/null && (cd "$tmp" && apt-get download "${packages[@]}" >/dev/null); }
mkdir -p "$dest"
for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest"; done

# cuobjdump and nvdisasm: the toolkit's where it has them, else PyPI's.
mkdir -p "$dest/usr/bin"
for tool in cuobjdump nvdisasm; do
  path=$(command -v "$tool" || true)
  if [[ -z $path ]]; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp/wheels" \
      "nvidia-cuda-$tool" >/dev/null
    (cd "$tmp" && python3 -m zipfile -e "$(ls wheels/nvidia_cuda_"$tool"-*.whl | head -n 1)" "whl-$tool")
    path=$(find "$tmp/whl-$tool" -type f -name "$tool" | head -n 1)
  fi
  install -m 0755 "$path" "$dest/usr/bin/$tool"
done
echo "ready: .devdeps/ ($(du -sh "$dest" | cut -f1)); carry it to the GPU machine with the checkout"
