#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds llama.cpp's `llama-bench` from the source that PyPI's llama-cpp-python sdist carries
# (vendor/llama.cpp), outside the repository, for the decode comparison in docs/results.md
# ("Sparse against quantized"). Pinned version and sha256; idempotent. Prints the binary's path.
#   scripts/llamacpp.sh            # build (or reuse) and print the path of llama-bench
# Environment: DUO_CACHE_DIR (default ~/.cache/duoscope).
set -euo pipefail
. "$(dirname "$0")/cache-lib.sh"
version=0.3.36
sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
dir="$cache/llamacpp/$version"
bin="$dir/build/bin/llama-bench"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
tarball="$dir/llama_cpp_python-$version.tar.gz"
if [ ! -s "$tarball" ]; then
  echo "llamacpp: downloading llama-cpp-python $version (sdist) from PyPI" >&2
  # pip fetches through whatever index this machine's pip is configured for (it prepares the
  # sdist's metadata, in an isolated build environment); PyPI's JSON API is the fallback.
  rm -rf "$dir/dl.tmp"
  if python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$dir/dl.tmp" >&2 &&
     [ -s "$dir/dl.tmp/llama_cpp_python-$version.tar.gz" ]; then
    mv "$dir/dl.tmp/llama_cpp_python-$version.tar.gz" "$tarball.tmp"
  else
    python3 - "$version" "$tarball.tmp" <<'EOF'
import json, sys, urllib.parse, urllib.request
version, out = sys.argv[1], sys.argv[2]
api = f"https://pypi.org/pypi/llama-cpp-python/{version}/json"
meta = json.load(urllib.request.urlopen(api, timeout=120))
sdist = [u for u in meta["urls"] if u["packagetype"] == "sdist"]
if not sdist:
    sys.exit(f"llamacpp: PyPI lists no sdist for llama-cpp-python {version}")
url = urllib.parse.urljoin(api, sdist[0]["url"])
with urllib.request.urlopen(url, timeout=600) as r, open(out, "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
EOF
  fi
  rm -rf "$dir/dl.tmp"
  install_verified "$tarball.tmp" "$tarball" "$sha" "llamacpp: the sdist"
fi
if [ ! -d "$dir/src" ]; then
  rm -rf "$dir/src.tmp" && mkdir -p "$dir/src.tmp"
  tar -xzf "$tarball" -C "$dir/src.tmp" --strip-components=3 "llama_cpp_python-$version/vendor/llama.cpp"
  mv "$dir/src.tmp" "$dir/src"
fi
echo "llamacpp: building llama-bench (native CPU flags, OpenMP, no network code)" >&2
cmake -S "$dir/src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$dir/build" --target llama-bench -j "$(nproc)" >&2
echo "$bin"
