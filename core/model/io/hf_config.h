// SPDX-License-Identifier: GPL-3.0-or-later
// Hugging Face config.json <-> ModelConfig, for the LLaMA family we run through one decoder:
// LLaMA-2/3/3.1/3.2, Mistral, Qwen2, SmolLM/SmolLM2. Anything that would change the math in a
// way our decoder does not implement is refused with a message naming the key. Torch-free.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/model/model_config.h"

namespace duo {

// Parses a config.json object. `source` names the file in error messages.
ModelConfig parseHfConfig(const nlohmann::json& j, const std::string& source);
// Reads <dir>/config.json (or the file itself when `path` is a .json file).
ModelConfig readHfConfig(const std::string& path);

// The inverse, for exports: a config.json that transformers (and parseHfConfig) read back as the
// same model. `architecture` picks LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM.
nlohmann::json hfConfigJson(const ModelConfig& config);

// The tokenizer file of an HF model folder (or alias, or a file inside the folder):
// tokenizer.json, else tokenizer.model (SentencePiece). Throws duo::Error naming the folder when
// neither exists.
std::string hfTokenizerPath(const std::string& path);

}  // namespace duo
