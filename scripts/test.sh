#!/usr/bin/env bash
# Quick start 2: set up, build, and run every test (CTest, all labels; CUDA tests skip without a GPU).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start=$(date +%s)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
build="${DUO_BUILD_DIR:-$root/build}"
built=$(date +%s)
echo "test: set-up and build took $((built - start)) s"
ctest --test-dir "$build" --output-on-failure --timeout 1500
echo "test: tests took $(( $(date +%s) - built )) s"
