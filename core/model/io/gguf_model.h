// GGUF metadata -> ModelConfig and TokenizerSpec (llama.cpp's key names: {arch}.block_count,
// tokenizer.ggml.tokens, ...). Torch-free.
#pragma once
#include <string>

#include "core/model/io/gguf.h"
#include "core/model/model_config.h"
#include "core/model/tokenizer/tokenizer_spec.h"

namespace duo {

// The decoder shape from {arch}.* keys and the tensor list (tied when there is no output.weight).
// Supported general.architecture values: llama, qwen2. Throws duo::Error naming the file and the
// key for anything missing, out of range or unsupported.
ModelConfig ggufModelConfig(const GgufHeader& h, const std::string& fileName);

// The tokenizer.ggml.* keys. Throws duo::Error naming the file when they are missing/inconsistent.
TokenizerSpec ggufTokenizerSpec(const GgufHeader& h, const std::string& fileName);
// Opens (maps) the file (or alias, e.g. "smollm2") and reads its tokenizer.
TokenizerSpec ggufTokenizerSpec(const std::string& path);

// True when llama.cpp's converter permuted this architecture's q/k rows (llama: yes, qwen2: no).
bool ggufPermutesQk(const std::string& architecture);

}  // namespace duo
