// SPDX-License-Identifier: GPL-3.0-or-later
// Content hash of a model for run records: SHA-256 of the file for a GGUF/safetensors file; for
// an HF folder, SHA-256 over "<name> <sha256>\n" lines of its config.json and *.safetensors files
// in name order (so renaming the folder keeps the hash, changing any weight changes it).
// Each file's SHA-256 is remembered by the file's identity (absolute path, device, inode, size and
// modification time to the nanosecond) in <cacheDir>/file-hashes.json, so a 13.5 GB checkpoint is
// read once, not at every run; a rewritten or touched file has a new identity and is read again.
// Torch-free.
#pragma once
#include <string>

namespace duo {

// Throws duo::Error naming the path when it is missing or unreadable.
std::string modelContentHash(const std::string& path);

// sha256File(path) through the identity cache above. A cache that cannot be read or written is
// ignored (the file is hashed); `hit`, when given, says whether the cache answered.
std::string sha256FileCached(const std::string& path, bool* hit = nullptr);

}  // namespace duo
