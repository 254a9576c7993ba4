#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The reference environment of tests/reference/README.md, outside the repository: a Python venv
# with the independent implementations the `check_exports` test loads DuoScope's exports with
# (PyPI transformers, compressed-tensors, llm-compressor, gguf, torch), plus compressed-tensors
# 0.12.2 beside it. scripts/test.sh runs it so that CI skips nothing but the CUDA tests.
# About 7.5 GB installed (PyPI's torch wheel brings the CUDA libraries; it runs on CPU); 7 min on a
# fresh 2-core machine. Idempotent: a second run checks a stamp and returns.
set -euo pipefail
cache="${DUO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duoscope}"
venv="$cache/venv-ref"
# The versions the committed checks were last run with (pip resolved them on 2026-12-03).
packages=(torch==2.10.0 transformers==5.17.0 accelerate==1.16.0 gguf==0.19.0 numpy==2.4.6
          safetensors==0.8.0 tokenizers==0.23.3 sentencepiece==0.2.3 compressed-tensors==0.19.0
          llmcompressor==0.14.0.1)
stamp="$venv/.duoscope-reference"
want="${packages[*]} ct-0.12=compressed-tensors==0.12.2"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$cache/ct-0.12/compressed_tensors" ]; then
  exit 0
fi
start=$(date +%s)
echo "setup-reference: installing the reference environment into $venv (PyPI, ~7.5 GB)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}"
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --upgrade --target "$cache/ct-0.12" compressed-tensors==0.12.2
"$venv/bin/python" -c 'import torch, transformers, compressed_tensors, llmcompressor, gguf, sentencepiece' >/dev/null
echo "$want" > "$stamp"
echo "setup-reference: ok ($(( $(date +%s) - start )) s)"
