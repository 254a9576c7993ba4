// SPDX-License-Identifier: GPL-3.0-or-later
// Random-weight checkpoints at real shapes, for measuring memory and time honestly without
// downloading a model: an HF folder (config.json, safetensors shards, tokenizer) whose tensors
// are drawn as transformers initialises a LLaMA (projections and embeddings N(0, 0.02^2), norms
// 1), generated and written one tensor at a time through the CheckpointWriter, so a 13.5 GB
// LLaMA-2-7B-shaped checkpoint is written with one tensor in memory. Internal header (torch).
#pragma once
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/model_config.h"

namespace duo {

// Named shapes: "llama2-7b" (32 x 4096, FFN 11008, 32 heads, vocab 32000), "llama3-8b" (32 x
// 4096, FFN 14336, 32 heads / 8 KV heads, vocab 128256, theta 500000), "llama2-70b" (80 x 8192,
// FFN 28672, 64 / 8 heads), "mistral-7b" (32 x 4096, FFN 14336, 32 / 8 heads, vocab 32000),
// "qwen2-7b" (28 x 3584, FFN 18944, 28 / 4 heads, vocab 152064, q/k/v biases). Throws duo::Error
// for another name.
ModelConfig namedShape(const std::string& name);

struct RandomModelOptions {
  ModelConfig config;
  torch::ScalarType dtype = torch::kBFloat16;
  uint64_t seed = 0;
  std::string tokenizerSource;  // a tokenizer.json to copy (its vocabulary must fit the config's)
  int64_t maxShardBytes = 0;    // 0 = the writer's default (5 GB)
  bool holes = false;           // headers only: every tensor a hole (all zeros, no disk used), for plans
};

// Writes the checkpoint to `outDir` (assembled beside it, renamed into place). Progress: stage
// "generate", one step per tensor; false cancels and leaves nothing.
void writeRandomModel(const std::string& outDir, const RandomModelOptions& options, const ProgressFn& progress = {});

}  // namespace duo
