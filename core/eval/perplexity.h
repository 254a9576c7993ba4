// Perplexity, SparseGPT/GPTQ convention: concatenate the text, cut into non-overlapping windows of
// seqlen tokens (tail dropped), mean NLL over the predicted tokens (seqlen-1 per window), exp.
// Internal (torch).
#pragma once
#include <cstdint>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/llama_model.h"

namespace duo {

struct PerplexityResult {
  double perplexity = 0;
  double meanNll = 0;
  int64_t tokens = 0;   // predicted tokens
  int64_t windows = 0;
  int seqlen = 0;
  double seconds = 0;
};

// windows: [w, seqlen] i64. The hook (e.g. activation sparsity) is applied in every forward.
PerplexityResult evalPerplexity(const LlamaModel& model, const torch::Tensor& windows, const InputHook& hook = {},
                                int batch = 4, const ProgressFn& progress = {});

}  // namespace duo
