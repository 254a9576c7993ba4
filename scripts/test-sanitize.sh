#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The sanitizer pass: builds build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer (GUI and
# CUDA off; every finding stops the process, leaks included) and runs the `unit` and `model`
# labels under them (the fuzz corpora replay is in `unit`), then lists the skips like test.sh.
# Run after scripts/setup.sh. DUO_ASAN_BUILD_DIR overrides the folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
asan="${DUO_ASAN_BUILD_DIR:-$root/build-asan}"
start=$(date +%s)
DUO_BUILD_DIR="$asan" bash "$root/scripts/build.sh" -DDUO_SANITIZE=address,undefined -DDUO_BUILD_GUI=OFF -DDUO_ENABLE_CUDA=OFF
built=$(date +%s)
echo "test-sanitize: build took $((built - start)) s"
rc=0
# Two tests at a time: test_streaming alone takes about 16 minutes under the sanitizers, which the
# other tests then share the second core with.
ctest --test-dir "$asan" -L "unit|model" -j2 --output-on-failure --timeout 3000 --output-junit ctest-junit.xml || rc=1
python3 "$root/scripts/ctest_skips.py" "$asan" ctest-junit.xml --allow cuda || rc=1
echo "test-sanitize: tests took $(( $(date +%s) - built )) s"
exit $rc
