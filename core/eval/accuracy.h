// SPDX-License-Identifier: GPL-3.0-or-later
// Multiple-choice accuracy, scored as lm-eval-harness scores `multiple_choice` tasks:
//   - each choice is a request (context, continuation); the context's trailing spaces move to the
//     continuation; tokens = encode(context + continuation), the continuation's tokens are those
//     after the first len(encode(context)) (no BOS, as lm-eval does for HF causal LMs; an empty
//     context is replaced by the BOS/EOS token);
//   - the score of a choice is the sum of log p(token | everything before) over its tokens;
//   - acc = [argmax score == gold], acc_norm = [argmax score / bytes(choice) == gold], averaged
//     over items, with the standard error of the mean (sample std, n - 1) like lm-eval.
// Requests are batched (sorted by length, right-padded: causal attention never sees the padding)
// and logits are computed only at the continuation positions. Internal header (torch).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/data/mc_task.h"
#include "core/model/layerwise.h"
#include "core/model/llama_model.h"
#include "core/model/tokenizer/tokenizer.h"

namespace duo {

struct AccuracyResult {
  std::string task;              // McTask::name
  int64_t items = 0;
  double acc = 0, accStderr = 0;
  double accNorm = 0, accNormStderr = 0;
  double seconds = 0;
  std::vector<std::vector<double>> logLik;  // [item][choice] summed log-probability (nats)
  std::vector<int> pred, predNorm;          // [item] chosen index by acc and by acc_norm

  // {"task", "items", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}
  nlohmann::json toJson() const;
};

// Standard error of the mean of 0/1 outcomes with mean p over n items: sqrt(p (1 - p) / (n - 1)).
double binaryMeanStderr(double p, int64_t n);

// Scores every item of `task`. `hook` is the model's activation rule (empty for a dense model),
// `batch` requests per forward. Progress: stage "eval", detail "accuracy", done/total requests.
AccuracyResult evalAccuracy(const LlamaModel& model, const Tokenizer& tokenizer, const McTask& task,
                            const InputHook& hook = {}, int batch = 16, const ProgressFn& progress = {});

// The same scoring through the layer streamer: the requests' batches are added to a
// LayerwiseBatches, walked with the rest, and scored once the walk has reached the head. `task`
// must outlive the walk.
class AccuracyWalk {
 public:
  AccuracyWalk(const Tokenizer& tokenizer, const McTask& task, int64_t maxPositions, int batch = 16);
  void addTo(LayerwiseBatches& batches);
  AccuracyResult score(const LayerwiseBatches& batches) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> m;
  friend AccuracyResult evalAccuracy(const LlamaModel&, const Tokenizer&, const McTask&, const InputHook&, int,
                                     const ProgressFn&);
};

}  // namespace duo
