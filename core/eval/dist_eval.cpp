// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/eval/dist_eval.h"

#include <cmath>

namespace duo {

torch::Tensor shareWindows(const torch::Tensor& windows, int batch, const Collective& dist) {
  if (dist.size() == 1) return windows;
  const int64_t w = windows.size(0), b = std::max(1, batch);
  const auto [c0, c1] = shareOf((w + b - 1) / b, dist.rank(), dist.size());
  const int64_t begin = std::min(w, c0 * b), end = std::min(w, c1 * b);
  return windows.narrow(0, begin, end - begin);
}

McTask shareTask(const McTask& task, const Collective& dist) {
  if (dist.size() == 1) return task;
  McTask mine = task;
  const auto [i0, i1] = shareOf(static_cast<int64_t>(task.items.size()), dist.rank(), dist.size());
  mine.items.assign(task.items.begin() + i0, task.items.begin() + i1);
  return mine;
}

PerplexityResult reducePerplexity(const PerplexityResult& mine, Collective& dist) {
  if (dist.size() == 1) return mine;
  auto t = torch::tensor({mine.meanNll * static_cast<double>(mine.tokens), static_cast<double>(mine.tokens),
                          static_cast<double>(mine.windows)},
                         torch::kFloat64);
  dist.allReduceSum(t);
  PerplexityResult r = mine;
  const double nll = t[0].item<double>();
  r.tokens = static_cast<int64_t>(std::llround(t[1].item<double>()));
  r.windows = static_cast<int64_t>(std::llround(t[2].item<double>()));
  r.meanNll = r.tokens > 0 ? nll / static_cast<double>(r.tokens) : 0.0;
  r.perplexity = std::exp(r.meanNll);
  return r;
}

AccuracyResult reduceAccuracy(const AccuracyResult& mine, Collective& dist) {
  if (dist.size() == 1) return mine;
  const double n = static_cast<double>(mine.items);
  auto t = torch::tensor({n > 0 ? std::round(mine.acc * n) : 0.0, n > 0 ? std::round(mine.accNorm * n) : 0.0, n},
                         torch::kFloat64);
  dist.allReduceSum(t);
  AccuracyResult r = mine;
  r.items = static_cast<int64_t>(std::llround(t[2].item<double>()));
  const double items = static_cast<double>(std::max<int64_t>(1, r.items));
  r.acc = t[0].item<double>() / items;
  r.accNorm = t[1].item<double>() / items;
  r.accStderr = binaryMeanStderr(r.acc, r.items);
  r.accNormStderr = binaryMeanStderr(r.accNorm, r.items);
  r.logLik.clear();
  r.pred.clear();
  r.predNorm.clear();
  return r;
}

}  // namespace duo
