#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Quick start 2 (and CI, .ci/run): set up, build, and run every test.
#   1. set-up: Debian packages, corpus, SmolLM2 (setup.sh) and the Python reference environment
#      that check_exports needs (setup-reference.sh), so that nothing skips but the CUDA tests;
#   2. build/ (scripts/build.sh) and every CTest test in it, all labels;
#   3. scripts/test-sanitize.sh --quick: build-asan/ with AddressSanitizer and UBSan (GUI off, -Og),
#      the torch-free tests (kernels, core's base) and the file parsers' fuzz corpora under them
#      (DUO_TEST_SANITIZE=0 leaves it out,
#      DUO_TEST_SANITIZE=full runs the whole pass, all `unit` and `model` tests: about an hour more
#      on a 2-core machine, too long for CI's 90 minutes after a cold main build).
# After each ctest, scripts/ctest_skips.py lists every skipped test function with its reason (from
# CTest's JUnit file) and fails the run for a skip outside the `cuda` label.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start=$(date +%s)
bash "$root/scripts/setup.sh"
bash "$root/scripts/setup-reference.sh"
bash "$root/scripts/build.sh"
build="${DUO_BUILD_DIR:-$root/build}"
built=$(date +%s)
echo "test: set-up and build took $((built - start)) s"
rc=0
ctest --test-dir "$build" --output-on-failure --timeout 1500 --output-junit ctest-junit.xml || rc=1
python3 "$root/scripts/ctest_skips.py" "$build" ctest-junit.xml --allow cuda || rc=1
tested=$(date +%s)
echo "test: tests took $((tested - built)) s"
# The sanitizer pass; README.md has its times beside the main pass's.
case "${DUO_TEST_SANITIZE:-quick}" in
  0) ;;
  full) bash "$root/scripts/test-sanitize.sh" || rc=1 ;;
  *) bash "$root/scripts/test-sanitize.sh" --quick || rc=1 ;;
esac
echo "test: everything took $(( $(date +%s) - start )) s"
exit $rc
