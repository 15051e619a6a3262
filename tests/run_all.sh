#!/usr/bin/env bash
# The one test command (README "Test"): on a fresh Debian 12 machine, as root,
# installs what is missing, builds twice (ASan+UBSan for the CPU tests, plain for
# the Vulkan and full-size model tests) and runs every test on lavapipe with the
# Khronos validation layer (synchronization validation included) on.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

. cmake/deps.sh
g3_install_deps
g3_install_tokenizer "$root/build"

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

echo "== the README's main job (offline: a synthetic model unless one is in models/)"
./demo.sh "Why is the sky blue?"
