#include "core/eval/perplexity.h"

#include <chrono>
#include <cmath>

namespace duo {

PerplexityResult evalPerplexity(const LlamaModel& model, const torch::Tensor& windows, const InputHook& hook,
                                int batch, const ProgressFn& progress) {
  torch::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t w = windows.size(0), seqlen = windows.size(1);
  double nllSum = 0;  // f64 accumulation over all predicted tokens
  int64_t count = 0;
  for (int64_t i = 0; i < w; i += batch) {
    reportProgress(progress, {"eval", "perplexity", i, w});
    const int64_t b = std::min<int64_t>(batch, w - i);
    auto tokens = windows.narrow(0, i, b).to(model.device());                 // [b, T] i64
    auto logits = model.forward(tokens, hook);                                  // [b, T, V] f32
    auto logp = torch::log_softmax(logits.narrow(1, 0, seqlen - 1), -1);        // [b, T-1, V]
    auto target = tokens.narrow(1, 1, seqlen - 1).unsqueeze(-1);                // [b, T-1, 1]
    auto nll = -logp.gather(-1, target).squeeze(-1);                            // [b, T-1]
    nllSum += nll.to(torch::kFloat64).sum().item<double>();
    count += b * (seqlen - 1);
  }
  reportProgress(progress, {"eval", "perplexity", w, w});
  PerplexityResult r;
  r.meanNll = count ? nllSum / static_cast<double>(count) : 0;
  r.perplexity = std::exp(r.meanNll);
  r.tokens = count;
  r.windows = w;
  r.seqlen = static_cast<int>(seqlen);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace duo
