#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Derive DuoScope's built-in corpus `kjv` from Debian's bible-kjv package.

Reads the output of `bible "gen1:1-rev22:21"` on stdin and writes, into the cache folder given as
argv[1], plain text with one verse per line (verse numbers and chapter headings dropped, wrapped
lines joined, whitespace collapsed):
  kjv-calib.txt  Genesis..Malachi  (calibration split)
  kjv-eval.txt   Matthew..Revelation (evaluation split)
  kjv.json       sizes and SHA-256 of both, checked by DuoScope when it loads them.
Nothing of the text is committed to the repository.
"""
import hashlib
import json
import os
import re
import sys

HEADING = re.compile(r"^(\S.*) (\d+)$")      # "Genesis 1", "Song of Solomon 2"
VERSE = re.compile(r"^\s+(\d+) (.*)$")        # "  1 In the beginning ..."


def books(lines):
    """(book, [verse, ...], split) in order from the `bible` listing: each verse one line, wrapped
    lines joined, whitespace collapsed; split "calib" for Genesis..Malachi, "eval" from Matthew."""
    out = []
    split = "calib"
    verse = None

    def add(book, v):
        if not out or out[-1][0] != book:
            out.append((book, [], split))
        out[-1][1].append(re.sub(r"\s+", " ", v))

    book = None
    for raw in lines:
        if not raw.strip():
            continue
        m = HEADING.match(raw)
        if m and not raw.startswith(" "):
            if verse is not None:
                add(book, verse)
                verse = None
            if m.group(1) == "Matthew" and m.group(2) == "1":
                split = "eval"
            book = m.group(1)
            continue
        m = VERSE.match(raw)
        if m:
            if verse is not None:
                add(book, verse)
            verse = m.group(2).strip()
        elif verse is not None:
            verse += " " + raw.strip()
    if verse is not None:
        add(book, verse)
    return out


def main() -> int:
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    splits = {"calib": [], "eval": []}
    for _, verses, split in books(sys.stdin.read().splitlines()):
        splits[split] += verses
    manifest = {"source": 'bible "gen1:1-rev22:21" (Debian bible-kjv)', "splits": {}}
    for name, verses in splits.items():
        text = "\n".join(verses) + "\n"
        data = text.encode("utf-8")
        if len(verses) < 1000:
            print(f"derive_kjv: split {name} has only {len(verses)} verses; is bible-kjv installed?", file=sys.stderr)
            return 1
        path = os.path.join(out_dir, f"kjv-{name}.txt")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        manifest["splits"][name] = {"file": os.path.basename(path), "verses": len(verses),
                                    "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    tmp = os.path.join(out_dir, "kjv.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, os.path.join(out_dir, "kjv.json"))
    print(json.dumps(manifest["splits"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
