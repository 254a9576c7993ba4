// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF metadata -> ModelConfig and TokenizerSpec (llama.cpp's key names: {arch}.block_count,
// tokenizer.ggml.tokens, ...). Torch-free.
#pragma once
#include <cstdint>
#include <string>

#include "core/model/io/gguf.h"
#include "core/model/model_config.h"
#include "core/model/tokenizer/tokenizer_spec.h"

namespace duo {

// The decoder shape from {arch}.* keys and the tensor list (tied when there is no output.weight).
// Supported general.architecture values: llama, qwen2. Throws duo::Error naming the file and the
// key for anything missing, out of range or unsupported.
// A LLaMA-3.x `rope_freqs.weight` becomes RopeScaling "rope_freqs"; reading it needs the tensor's
// data: this overload maps `fileName` again when the tensor is present.
ModelConfig ggufModelConfig(const GgufHeader& h, const std::string& fileName);
// The same with the whole file's bytes at hand (`fileData` is what `h` was parsed from; may be
// nullptr when the header has no rope_freqs.weight).
ModelConfig ggufModelConfig(const GgufHeader& h, const std::string& fileName, const uint8_t* fileData);

// The tensor llama.cpp's converter writes for llama3 RoPE scaling (consumed by ggufModelConfig,
// not a weight).
inline constexpr const char* kRopeFreqsTensor = "rope_freqs.weight";

// The tokenizer.ggml.* keys. Throws duo::Error naming the file when they are missing/inconsistent.
TokenizerSpec ggufTokenizerSpec(const GgufHeader& h, const std::string& fileName);
// Opens (maps) the file (or alias, e.g. "smollm2") and reads its tokenizer.
TokenizerSpec ggufTokenizerSpec(const std::string& path);

// True when llama.cpp's converter permuted this architecture's q/k rows (llama: yes, qwen2: no).
bool ggufPermutesQk(const std::string& architecture);

}  // namespace duo
