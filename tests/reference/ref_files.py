# SPDX-License-Identifier: GPL-3.0-or-later
"""What the reference scripts share: file hashes and the layout of the JSON files they write.

Imported by make_format_refs.py, make_gguf_refs.py and make_model_refs.py (same folder).
"""
import hashlib
import json
import os
import re


def sha256_file(path):
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_refs(path, refs):
    """Writes `refs` as indented JSON with lists of numbers kept on one line (the file stays small
    and diffs stay readable), and says so."""
    text = json.dumps(refs, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)).replace(",", ", ") + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
