// SPDX-License-Identifier: GPL-3.0-or-later
// How many calibration tokens a run has against what its method needs on the model. DuoGPT fits,
// for every projection, a correction from the sparse inputs towards the dense outputs: a
// regression on k inputs (k up to the FFN width) from the calibration tokens. With too few tokens
// it fits the calibration text instead of the model, and its advantage over SparseGPT is lost
// outside that text. Measured on SmolLM2-135M (k = 1536) by the cross-domain study (docs/results.md,
// "Outside the calibration text"; docs/method.md, "Calibration size"): with the default alpha
// (0.25), after a narrow calibration text (the KJV) DuoGPT's damage outside it was 0.95-0.99x
// SparseGPT's at 16 x 256 = 4,096 tokens (2.7 per input) and 0.94-0.95x at 64 x 256 = 16,384
// tokens (10.7 per input, three seeds), the method's 0.95x bound met from about 10 per input on;
// after the broad mix it was 0.83-0.90x at 64 x 256. The advice is kDuoGptTokensPerInput tokens
// per input of the widest projection.
// `prune` prints it before it starts (and as `calibration` in --json), the window's Data tab
// under the window count. Torch-free.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/model/model_config.h"
#include "core/prune/prune_types.h"

namespace duo {

inline constexpr int64_t kDuoGptTokensPerInput = 10;

struct CalibrationAdvice {
  std::string method;        // methodName()
  int64_t tokens = 0;        // nsamples x seqlen
  int64_t widestInput = 0;   // the widest projection input k (the FFN width on LLaMA shapes)
  int64_t advisedTokens = 0; // 0: the method has no rule (it fits no correction towards the dense model)
  bool enough() const { return advisedTokens <= 0 || tokens >= advisedTokens; }
  // "16,384 calibration tokens (64 x 256); DuoGPT advises at least 15,360 for this model (10 per
  // input of its widest projection, 1,536)" and, below it, what happens and what to change.
  std::string text(int nsamples, int seqlen) const;
  // {"tokens", "advised_tokens", "widest_input", "enough"}
  nlohmann::json toJson() const;
};

CalibrationAdvice adviseCalibration(const ModelConfig& config, Method method, int nsamples, int seqlen);

}  // namespace duo
