#!/usr/bin/env bash
# The main job in one line: ./demo.sh "Your question"
# On a fresh Debian 12 machine (as root, or with sudo): installs what is
# missing, builds g3vk, finds a model and answers the prompt.
# The model, in this order:
#   1. the GGUF file named by G3VK_MODEL;
#   2. a GGUF in models/ (for example gemma-3-270m-it-Q8_0.gguf);
#   3. where the network allows (not in CI, not with G3VK_OFFLINE=1),
#      gemma-3-270m-it-Q8_0.gguf downloaded from Hugging Face into models/;
#   4. else a synthetic model written by `g3vk synth` with the real Gemma 3
#      vocabulary and RANDOM weights: the pipeline runs for real, the words
#      it prints are meaningless.
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD
prompt=${1:-"Write a haiku about the sea."}
shift || true

. cmake/deps.sh
g3_install_deps
echo "== building g3vk (build/release)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target g3vk -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
g3vk=$root/build/release/host/g3vk

model=${G3VK_MODEL:-}
if [ -z "$model" ]; then
  model=$(ls models/*-it*.gguf models/*.gguf 2>/dev/null | grep -v '^models/synth-' | head -1 || true)
fi
hf_url=https://huggingface.co/ggml-org/gemma-3-270m-it-GGUF/resolve/main/gemma-3-270m-it-Q8_0.gguf
if [ -z "$model" ] && [ -z "${CI:-}" ] && [ -z "${G3VK_OFFLINE:-}" ] && command -v curl >/dev/null; then
  echo "== downloading gemma-3-270m-it-Q8_0.gguf (278 MiB) into models/"
  mkdir -p models
  if curl -fL --connect-timeout 10 --max-time 900 -o models/.download.gguf "$hf_url"; then
    mv models/.download.gguf models/gemma-3-270m-it-Q8_0.gguf
    model=models/gemma-3-270m-it-Q8_0.gguf
  else
    rm -f models/.download.gguf
    echo "   (no download: the network does not allow it here)"
  fi
fi
if [ -z "$model" ]; then
  model=models/synth-gemma-3-270m-q8_0.gguf
  if [ ! -f "$model" ]; then
    g3_install_tokenizer "$root/build"
    mkdir -p models
    "$g3vk" synth --out "$model" --type q8_0 --seed 1 \
      $( [ -f "${G3_TOKENIZER_JSON:-}" ] && echo --tokenizer "$G3_TOKENIZER_JSON" )
  fi
  echo
  echo "NOTE: no real Gemma 3 weights were found, so this runs a SYNTHETIC model: the real"
  echo "      270M shapes and vocabulary with random weights. The reply below is meaningless"
  echo "      text; put a GGUF in models/ or set G3VK_MODEL for a real answer."
fi
echo "== g3vk run -m $model"
echo
exec "$g3vk" run -m "$model" -p "$prompt" -n 64 "$@"
