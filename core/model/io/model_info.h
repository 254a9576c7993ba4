// SPDX-License-Identifier: GPL-3.0-or-later
// A model file's identity and shape, read from its headers alone (no weights loaded).
// Torch-free: the window's model summary and `duoscope-cli info` show it.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "core/model/model_config.h"

namespace duo {

struct ModelInfo {
  std::string path;            // as given (alias resolved)
  std::string format;          // "hf-safetensors" | "gguf"
  ModelConfig config;
  int64_t parameters = 0;      // counted from the tensor shapes in the file
  int64_t fileBytes = 0;       // weights files, summed
  std::string dtype;           // dominant storage dtype: "F32", "BF16", "Q4_1", "I8" (int8 weights), ...
  std::map<std::string, int64_t> dtypeCounts;  // tensors per storage dtype
  int64_t tensorCount = 0;
  std::string tokenizer;       // "bpe-bytelevel", "spm", "gpt2", "llama", or "" when none
  std::string name;            // general.name / folder name
};

// Throws duo::Error naming the path and the fault (missing, not a model, corrupt header...).
ModelInfo inspectModel(const std::string& path);

// Where the model named by `path` lives: aliases resolved (resolveModelPath: "tiny", "smollm2"),
// a file inside an HF folder (config.json, *.safetensors, the index) replaced by the folder; an
// HF folder or a GGUF file is returned as is. Throws duo::Error when nothing exists there.
std::string resolveModelLocation(const std::string& path);

}  // namespace duo
