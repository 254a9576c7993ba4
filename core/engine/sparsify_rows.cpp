// SPDX-License-Identifier: GPL-3.0-or-later
// The decode engine's activation rules on raw rows (core/engine/sparsify_rows.h).
#include "core/engine/sparsify_rows.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/prune/act_sparsity.h"
#include "core/prune/topk_rows.h"

namespace duo::perf {

void sparsifyTopKRows(float* x, std::int64_t rows, std::int64_t kIn, double p) {
  const std::int64_t nZero = topkZeroCount(kIn, p);
  if (nZero <= 0) return;
  thread_local std::vector<std::uint32_t> keys;  // [k] scratch, kept between calls
  keys.resize(static_cast<size_t>(kIn));
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * kIn;
    if (nZero >= kIn) std::fill(row, row + kIn, 0.0f);
    else topkZeroRow(row, row, kIn, nZero, keys.data());
  }
}

void sparsifyThresholdRows(float* x, std::int64_t n, float t) {
  if (t <= 0.0f) return;
  for (std::int64_t i = 0; i < n; ++i)
    if (std::fabs(x[i]) < t) x[i] = 0.0f;
}

}  // namespace duo::perf
