// SPDX-License-Identifier: GPL-3.0-or-later
// Perplexity, SparseGPT/GPTQ convention: concatenate the text, cut into non-overlapping windows of
// seqlen tokens (tail dropped), mean NLL over the predicted tokens (seqlen-1 per window), exp.
// Internal (torch).
#pragma once
#include <cstdint>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/layerwise.h"
#include "core/model/io/weight_source.h"
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

// The same through the layer streamer: all windows through layer i of `source` before layer i+1 is
// read, so only one layer (f32, on `device`) and the windows' hidden states are resident.
PerplexityResult evalPerplexityStreamed(WeightSource& source, const torch::Tensor& windows, const InputHook& hook,
                                        int batch, torch::Device device, const ProgressFn& progress = {});

// The pieces, for walks that evaluate as they go (the prune job evaluates both models while it
// calibrates): windows [w, T] are added to `batches` in groups of `batch`, and once the walk has
// reached the head, perplexityOf() scores them a batch at a time (logits [b, T, vocab]), or one
// window at a time when a batch's logits exceed kHeadBatchBytes (core/job/memory_plan.h).
struct PerplexityWindows {
  size_t first = 0, count = 0;  // batch indices in the LayerwiseBatches
};
PerplexityWindows addPerplexityWindows(LayerwiseBatches& batches, const torch::Tensor& windows, int batch);
PerplexityResult perplexityOf(const LayerwiseBatches& batches, const PerplexityWindows& which);

}  // namespace duo
