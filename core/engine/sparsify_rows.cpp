// SPDX-License-Identifier: GPL-3.0-or-later
// The decode engine's activation rules on raw rows (core/engine/sparsify_rows.h).
#include "core/engine/sparsify_rows.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/prune/act_sparsity.h"

namespace duo::perf {

namespace {

// The k-th smallest (1-based) of n magnitudes given as the bit patterns of non-negative floats
// (which order like the floats): a radix select on the exponent byte (bits 30-23), then on the next
// 8 bits among the keys of the chosen bucket, then nth_element among the few left (they share the
// top 17 bits). Compactions are branch-free: whether a key falls in the bucket is a coin toss.
// At decode widths (576-1536), where it runs 4 times per layer and token, this replaced one radix
// pass on the top 11 bits with its 2048-bin histogram (itself 3x faster than nth_element over all
// n): SmolLM2's whole sparsify part of a decode step went from 0.51-0.57 to 0.40-0.46 ms.
std::uint32_t kthSmallestKey(std::vector<std::uint32_t>& keys, std::int64_t k) {
  std::uint32_t* p = keys.data();
  auto n = static_cast<std::int64_t>(keys.size());
  for (const int shift : {23, 15}) {
    std::array<std::int32_t, 256> hist{};
    for (std::int64_t i = 0; i < n; ++i) ++hist[(p[i] >> shift) & 0xffu];
    std::int64_t below = 0;
    std::uint32_t bin = 0;
    while (below + hist[bin] < k) below += hist[bin++];
    std::int64_t m = 0;  // keep the bucket's keys, compacted to the front
    for (std::int64_t i = 0; i < n; ++i) {
      const std::uint32_t key = p[i];
      p[m] = key;
      m += ((key >> shift) & 0xffu) == bin;
    }
    n = m;
    k -= below;
  }
  std::nth_element(p, p + (k - 1), p + n);
  return p[k - 1];
}

}  // namespace

void sparsifyTopKRows(float* x, std::int64_t rows, std::int64_t kIn, double p) {
  const std::int64_t nZero = topkZeroCount(kIn, p);
  if (nZero <= 0) return;
  thread_local std::vector<std::uint32_t> keys;  // [k] scratch, kept between calls
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * kIn;
    if (nZero >= kIn) {
      std::fill(row, row + kIn, 0.0f);
      continue;
    }
    keys.resize(static_cast<size_t>(kIn));
    for (std::int64_t i = 0; i < kIn; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, row + i, sizeof bits);
      keys[static_cast<size_t>(i)] = bits & 0x7fffffffu;  // |x| (NaN patterns sort above +inf)
    }
    // t = the nZero-th smallest magnitude: everything below it goes (a branch-free pass), then ties
    // at t in index order until exactly nZero are zeroed.
    const std::uint32_t tBits = kthSmallestKey(keys, nZero);
    float t;
    std::memcpy(&t, &tBits, sizeof t);
    std::int64_t zeroed = 0;
    for (std::int64_t i = 0; i < kIn; ++i) {
      const bool below = std::fabs(row[i]) < t;
      zeroed += below;
      row[i] = below ? 0.0f : row[i];
    }
    for (std::int64_t i = 0; i < kIn && zeroed < nZero; ++i)
      if (std::fabs(row[i]) == t) {
        row[i] = 0.0f;
        ++zeroed;
      }
  }
}

void sparsifyThresholdRows(float* x, std::int64_t n, float t) {
  if (t <= 0.0f) return;
  for (std::int64_t i = 0; i < n; ++i)
    if (std::fabs(x[i]) < t) x[i] = 0.0f;
}

}  // namespace duo::perf
