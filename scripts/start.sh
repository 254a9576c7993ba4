#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Quick start 1: set up, build, and run the main job: the DuoScope window on the bundled model.
# With no display it says so and runs the headless demo (duoscope-cli demo) instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
build="${DUO_BUILD_DIR:-$root/build}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$build/app/duoscope" ]; then
  exec "$build/app/duoscope" --model tiny
fi
echo "start: no display (DISPLAY/WAYLAND_DISPLAY unset): running the headless demo, duoscope-cli demo"
exec "$build/app/duoscope-cli" demo
