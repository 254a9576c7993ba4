// SPDX-License-Identifier: GPL-3.0-or-later
// Loading LLaMA-family weights from an HF folder (config.json + safetensors, sharded or not) or a
// GGUF file into LlamaWeights (f32, CPU, contiguous, nn.Linear layout, HF q/k row order).
// Internal header (torch). Torch-free parts: hf_config.h (config.json, hfTokenizerPath),
// gguf_model.h (GGUF config, ggufTokenizerSpec), model_info.h (inspectModel).
#pragma once
#include <string>

#include "core/common/progress.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/hf_config.h"
#include "core/model/llama_weights.h"

namespace duo {

// Loads every weight of the model at `path` (an HF folder, a file inside one such as its
// config.json or model.safetensors, a .gguf file, or an alias that resolveModelPath() knows:
// "tiny", "smollm2"). Checks: every tensor the config needs is present
// and has the shape the config implies, no tensor is left unexplained, no NaN/Inf (the error
// names the tensor). GGUF tensors and int8 weights (compressed-tensors int-quantized, int8_layout.h)
// are dequantised to f32, and llama's q/k rows are put back in HF order. A tied lm_head is the same tensor as embed. Progress: stage "load", one step per tensor;
// returning false cancels (duo::Cancelled). Throws duo::Error naming the file and the fault.
LlamaWeights loadWeights(const std::string& path, const ProgressFn& progress = {});

// True for a path ending in .gguf or a file starting with the GGUF magic.
bool isGgufFile(const std::string& path);

// The config of the model at `path` (folder or .gguf) without loading weights.
ModelConfig loadModelConfig(const std::string& path);

// Undoes llama.cpp's q/k row permutation: convert_hf_to_gguf reorders each head's rows from
// HF's rotate-half layout [half, pair] to interleaved pairs [pair, half]. `w` is [nHeads*headDim, k]
// (or [nHeads*headDim] for a bias); returns the HF-ordered copy.
torch::Tensor unpermuteGgufQk(const torch::Tensor& w, int64_t nHeads);
// The forward permutation (HF -> GGUF order), for tests and GGUF writers.
torch::Tensor permuteGgufQk(const torch::Tensor& w, int64_t nHeads);

}  // namespace duo
