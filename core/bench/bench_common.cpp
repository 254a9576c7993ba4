// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/bench/bench_common.h"

#include <omp.h>
#include <stdlib.h>

#include <algorithm>

#include <torch/torch.h>

#include "core/common/error.h"

namespace duo::perf {

void applyThreads(int threads) {
  if (threads <= 0) return;
  torch::set_num_threads(threads);
  omp_set_num_threads(threads);
}

double loadAverage1m() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : 0.0;
}

double median(std::vector<double> v) {
  DUO_ASSERT(!v.empty());
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace duo::perf
