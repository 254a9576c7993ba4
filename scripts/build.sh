#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Configures and builds DuoScope into build/ (Ninja, ccache, RelWithDebInfo). Extra arguments go to
# CMake, e.g. scripts/build.sh -DDUO_BUILD_GUI=OFF.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${DUO_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja "$@" >/dev/null
fi
ninja -C "$build" -j"$(nproc)"
