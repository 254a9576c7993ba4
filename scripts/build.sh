#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Configures and builds DuoScope into build/ (Ninja, ccache, RelWithDebInfo; the CLI in unity batches
# for a new folder). Extra arguments go to CMake, e.g. scripts/build.sh -DDUO_BUILD_GUI=OFF.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${DUO_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  # A new folder builds the CLI as unity batches (CMakeLists.txt DUO_UNITY): a cold build is
  # shorter; pass -DDUO_UNITY=OFF for a folder you edit and rebuild often.
  cmake -S "$root" -B "$build" -G Ninja -DDUO_UNITY=ON "$@" >/dev/null
elif [ $# -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja "$@" >/dev/null
fi
ninja -C "$build" -j"$(nproc)"
