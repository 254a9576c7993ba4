#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The sanitizer pass: builds build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer (GUI and
# CUDA off, -Og; every finding stops the process, leaks included) and runs tests under them, then
# lists the skips like test.sh. Run after scripts/setup.sh. DUO_ASAN_BUILD_DIR overrides the folder.
#   scripts/test-sanitize.sh          the `unit` and `model` labels (the fuzz corpora replay is in
#                                     `unit`): all of core under the sanitizers, about an hour of
#                                     a 2-core machine from cold (README.md has the times);
#   scripts/test-sanitize.sh --quick  the torch-free tests (tests/CMakeLists.txt DUO_TORCH_FREE_TESTS:
#                                     the kernels, core's base) and the fuzz corpora of the model
#                                     and tokenizer file parsers (tests/fuzz/replay.cmake
#                                     DUO_FUZZ_LIBS_*, which link only their own core areas);
#                                     what the README's test command runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
asan="${DUO_ASAN_BUILD_DIR:-$root/build-asan}"
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; fi
start=$(date +%s)
cmake -S "$root" -B "$asan" -G Ninja -DDUO_UNITY=ON -DDUO_SANITIZE=address,undefined -DDUO_BUILD_GUI=OFF -DDUO_ENABLE_CUDA=OFF >/dev/null
rc=0
if [ $quick = 1 ]; then
  tests=$(sed -n 's/^set(DUO_TORCH_FREE_TESTS \(.*\))$/\1/p' "$root/tests/CMakeLists.txt")
  parsers=$(sed -n 's/^set(DUO_FUZZ_LIBS_\([a-z_]*\) .*/\1/p' "$root/tests/fuzz/replay.cmake")
  [ -n "$tests" ] && [ -n "$parsers" ] || { echo "test-sanitize: no quick tests found in tests/" >&2; exit 1; }
  targets="$tests $(for p in $parsers; do printf 'replay_%s ' "$p"; done)"
  names="$tests $(for p in $parsers; do printf 'fuzz_replay_%s ' "$p"; done)"
  # shellcheck disable=SC2086
  ninja -C "$asan" -j"$(nproc)" $targets
  built=$(date +%s)
  echo "test-sanitize --quick: build took $((built - start)) s"
  ctest --test-dir "$asan" -R "^($(echo $names | tr ' ' '|'))\$" -j2 --output-on-failure --timeout 1200 \
    --output-junit ctest-junit.xml || rc=1
else
  ninja -C "$asan" -j"$(nproc)"
  built=$(date +%s)
  echo "test-sanitize: build took $((built - start)) s"
  # Two tests at a time: test_streaming alone takes about 16 minutes under the sanitizers, which the
  # other tests then share the second core with.
  ctest --test-dir "$asan" -L "unit|model" -j2 --output-on-failure --timeout 3000 --output-junit ctest-junit.xml || rc=1
fi
python3 "$root/scripts/ctest_skips.py" "$asan" ctest-junit.xml --allow cuda || rc=1
echo "test-sanitize: tests took $(( $(date +%s) - built )) s"
exit $rc
