// SPDX-License-Identifier: GPL-3.0-or-later
// Opening a model for computation: weights (HF folder or GGUF) + tokenizer + identity, on a device.
// Internal header (torch).
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/io/model_info.h"
#include "core/model/io/weight_source.h"
#include "core/model/llama_model.h"
#include "core/model/model_ref.h"
#include "core/model/tokenizer/tokenizer.h"

namespace duo {

struct LoadedModel {
  ModelInfo info;
  std::shared_ptr<LlamaModel> model;
  std::shared_ptr<Tokenizer> tokenizer;
  std::string tokenizerJsonPath;  // HF folders: the tokenizer file (tokenizer.json, else tokenizer.model) copied into pruned checkpoints
};

// A model opened for the layer streamer: headers read and checked, the tokenizer loaded, no
// weights in memory.
struct OpenedModel {
  ModelInfo info;
  std::unique_ptr<WeightSource> source;
  std::shared_ptr<Tokenizer> tokenizer;
  std::string tokenizerJsonPath;  // as LoadedModel's
};

// "" or "auto": CUDA when LibTorch has it, else CPU; "cpu"; "cuda" (error when unavailable).
torch::Device chooseDevice(const std::string& preference);

// Resolves aliases (tiny, smollm2), loads weights and tokenizer. Errors name the file and fault.
LoadedModel loadModel(const std::string& pathOrAlias, torch::Device device, const ProgressFn& progress = {});

// Opens the weights of a resolved model for streaming and loads the tokenizer; `info` is the
// ref's (its headers are not read again).
OpenedModel openModel(const ModelRef& model);
// The same for a name: ModelRef::resolve, then the above.
OpenedModel openModel(const std::string& pathOrAlias);

}  // namespace duo
