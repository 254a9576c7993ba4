# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by the scripts that fetch something into DuoScope's cache outside the repository
# (fetch-smollm2.sh, llamacpp.sh); not run on its own.

# The cache directory: DUO_CACHE_DIR, else $XDG_CACHE_HOME/duoscope, else ~/.cache/duoscope.
cache="${DUO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duoscope}"

# install_verified TMP DEST SHA256 WHAT: moves TMP to DEST when its sha256 is SHA256; otherwise
# removes TMP, prints "WHAT has sha256 <actual>, expected SHA256" on stderr and returns 1.
install_verified() {
  local tmp=$1 dest=$2 expected=$3 what=$4 actual
  actual=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    rm -f "$tmp"
    echo "$what has sha256 $actual, expected $expected" >&2
    return 1
  fi
  mv "$tmp" "$dest"
}
