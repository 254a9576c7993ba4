// SPDX-License-Identifier: GPL-3.0-or-later
// Writing models: safetensors files and whole HF checkpoint folders (config.json,
// model.safetensors, tokenizer). Everything is written atomically: a cancel, a crash or a full
// disk leaves the destination as it was. Internal header (torch).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/io/checkpoint_writer.h"
#include "core/model/llama_weights.h"

namespace duo {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes `tensors` (converted to contiguous f32 on the CPU, stored as F32) in the given order,
// with `metadata` as "__metadata__", through a temp file renamed into place. Names must be unique
// and non-empty. Progress: stage "save", one step per tensor; false cancels (nothing is written).
void saveSafetensors(const std::string& path, const NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata = {}, const ProgressFn& progress = {});

// The HF-named tensors of a model (lm_head omitted when tied and identical to embed).
NamedTensors hfNamedTensors(const LlamaWeights& w);

// Writes an HF checkpoint folder `outDir`: config.json (hfConfigJson(w.config) with `extraConfig`'s
// keys merged over it, e.g. sparsity_config), model.safetensors (HF tensor names, f32 unless options say otherwise) and, when
// `tokenizerSource` is not empty, a copy of that file under its own name (tokenizer.json or
// tokenizer.model). The folder is assembled next to outDir and renamed into place; an existing
// outDir is replaced only once the new one is complete.
// The tensors are stored in options.dtype (f32 by default) in shards of at most
// options.maxShardBytes (CheckpointWriter).
void saveHfCheckpoint(const LlamaWeights& w, const std::string& outDir, const nlohmann::json& extraConfig = {},
                      const std::string& tokenizerSource = "", const ProgressFn& progress = {},
                      const CheckpointWriterOptions& options = {});

}  // namespace duo
