// Content hash of a model for run records: SHA-256 of the file for a GGUF/safetensors file; for
// an HF folder, SHA-256 over "<name> <sha256>\n" lines of its config.json and *.safetensors files
// in name order (so renaming the folder keeps the hash, changing any weight changes it).
// Torch-free.
#pragma once
#include <string>

namespace duo {

// Throws duo::Error naming the path when it is missing or unreadable.
std::string modelContentHash(const std::string& path);

}  // namespace duo
