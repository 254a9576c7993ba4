// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/calibration_advice.h"

#include <algorithm>

namespace duo {
namespace {

// 16384 -> "16,384"
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  const int lead = static_cast<int>(digits.size()) % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (static_cast<int>(i) - lead) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

CalibrationAdvice adviseCalibration(const ModelConfig& config, Method method, int nsamples, int seqlen) {
  CalibrationAdvice a;
  a.method = methodName(method);
  a.tokens = static_cast<int64_t>(std::max(nsamples, 0)) * std::max(seqlen, 0);
  a.widestInput = std::max({config.hiddenSize, config.intermediateSize, config.qDim()});
  if (method == Method::DuoGpt) a.advisedTokens = kDuoGptTokensPerInput * a.widestInput;
  return a;
}

std::string CalibrationAdvice::text(int nsamples, int seqlen) const {
  std::string s = grouped(tokens) + " calibration tokens (" + std::to_string(nsamples) + " x " + std::to_string(seqlen) + ")";
  if (advisedTokens <= 0) return s;
  s += "; DuoGPT advises at least " + grouped(advisedTokens) + " for this model (" +
       std::to_string(kDuoGptTokensPerInput) + " per input of its widest projection, " + grouped(widestInput) + ")";
  if (!enough())
    s += ". Below that its residual correction fits the calibration text more than the model, and out of that "
         "text it can do worse than SparseGPT: raise --nsamples or --seqlen";
  return s;
}

nlohmann::json CalibrationAdvice::toJson() const {
  return {{"tokens", tokens}, {"advised_tokens", advisedTokens}, {"widest_input", widestInput}, {"enough", enough()}};
}

}  // namespace duo
