// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/eval/perplexity.h"

#include <chrono>
#include <cmath>

#include "core/common/error.h"
#include "core/job/memory_plan.h"

namespace duo {

namespace {

// Summed NLL (f64) of tokens [b, T] i64 under logits [b, T, V] f32: position t predicts t + 1.
double nllSum(const torch::Tensor& logits, const torch::Tensor& tokens) {
  const int64_t seqlen = tokens.size(1);
  auto logp = torch::log_softmax(logits.narrow(1, 0, seqlen - 1), -1);        // [b, T-1, V]
  auto target = tokens.narrow(1, 1, seqlen - 1).unsqueeze(-1);                // [b, T-1, 1]
  auto nll = -logp.gather(-1, target).squeeze(-1);                            // [b, T-1]
  return nll.to(torch::kFloat64).sum().item<double>();
}

PerplexityResult finish(double nllTotal, int64_t count, int64_t windows, int64_t seqlen,
                        std::chrono::steady_clock::time_point t0) {
  PerplexityResult r;
  r.meanNll = count ? nllTotal / static_cast<double>(count) : 0;
  r.perplexity = std::exp(r.meanNll);
  r.tokens = count;
  r.windows = windows;
  r.seqlen = static_cast<int>(seqlen);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

PerplexityResult evalPerplexity(const LlamaModel& model, const torch::Tensor& windows, const InputHook& hook,
                                int batch, const ProgressFn& progress) {
  torch::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t w = windows.size(0), seqlen = windows.size(1);
  double total = 0;  // f64 accumulation over all predicted tokens
  int64_t count = 0;
  for (int64_t i = 0; i < w; i += batch) {
    reportProgress(progress, {"eval", "perplexity", i, w});
    const int64_t b = std::min<int64_t>(batch, w - i);
    auto tokens = windows.narrow(0, i, b).to(model.device());  // [b, T] i64
    total += nllSum(model.forward(tokens, hook), tokens);
    count += b * (seqlen - 1);
  }
  reportProgress(progress, {"eval", "perplexity", w, w});
  return finish(total, count, w, seqlen, t0);
}

PerplexityWindows addPerplexityWindows(LayerwiseBatches& batches, const torch::Tensor& windows, int batch) {
  DUO_CHECK(windows.dim() == 2 && windows.size(1) >= 2, "perplexity: expected windows [w, seqlen >= 2], got ",
            windows.sizes());
  DUO_CHECK(batch >= 1, "perplexity: batch ", batch, " must be at least 1");
  PerplexityWindows which;
  which.first = batches.size();
  for (int64_t i = 0; i < windows.size(0); i += batch) {
    batches.add(windows.narrow(0, i, std::min<int64_t>(batch, windows.size(0) - i)));
    ++which.count;
  }
  return which;
}

PerplexityResult perplexityOf(const LayerwiseBatches& batches, const PerplexityWindows& which) {
  torch::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  double total = 0;
  int64_t count = 0, windows = 0, seqlen = 0;
  for (size_t i = which.first; i < which.first + which.count; ++i) {
    const torch::Tensor& tokens = batches.tokens(i);  // [b, T] i64
    const torch::Tensor& h = batches.hidden(i);       // [b, T, d] f32
    seqlen = tokens.size(1);
    const int64_t b = tokens.size(0);
    const int64_t vocab = batches.runner().config().vocabSize;
    // The whole batch's logits [b, T, V] like evalPerplexity (same arithmetic), unless they are big.
    const int64_t step = b * seqlen * vocab * 4 <= kHeadBatchBytes ? b : 1;
    for (int64_t r = 0; r < b; r += step) {
      const auto tok = tokens.narrow(0, r, step).to(batches.device());
      total += nllSum(batches.logits(h.narrow(0, r, step)), tok);
    }
    count += b * (seqlen - 1);
    windows += b;
  }
  return finish(total, count, windows, seqlen, t0);
}

PerplexityResult evalPerplexityStreamed(WeightSource& source, const torch::Tensor& windows, const InputHook& hook,
                                        int batch, torch::Device device, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  LayerwiseBatches batches(source.config(), device);
  const PerplexityWindows which = addPerplexityWindows(batches, windows, batch);
  walkLayers(source, batches, hook, "perplexity", progress);
  PerplexityResult r = perplexityOf(batches, which);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace duo
