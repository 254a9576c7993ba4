// SPDX-License-Identifier: GPL-3.0-or-later
// Trains DuoScope's bundled default model: a tiny LLaMA (GQA, RoPE, SwiGLU) on kjv:calib with our
// own byte-level BPE tokenizer, in LibTorch autograd with a fixed seed. Torch-free header.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"

namespace duo {

struct TrainTinyOptions {
  int layers = 4;
  int hidden = 256;
  int heads = 8;
  int kvHeads = 2;
  int ffn = 768;
  int vocab = 1024;          // BPE vocabulary incl. special tokens
  int seqlen = 128;          // training window
  int batch = 16;
  int steps = 3000;          // optimizer steps (stops earlier when maxSeconds is reached)
  double maxSeconds = 0;     // 0 = no time limit
  double lr = 3e-3;          // peak, cosine decay to lr/10 after warm-up
  int warmup = 100;
  double weightDecay = 0.1;
  uint64_t seed = 1234;
  int evalWindows = 64;      // held-out kjv:eval windows (seqlen) for the reported perplexity
  std::string corpus = "kjv:calib";
  std::string outDir;        // HF folder: config.json, model.safetensors (F16), tokenizer.json, training.json
};

// Returns the training record (also written to outDir/training.json): options, steps, tokens,
// seconds, tokens/s, final train loss, held-out perplexity before and after training.
nlohmann::json trainTiny(const TrainTinyOptions& opts, const ProgressFn& progress = {});

}  // namespace duo
