// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/masks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>

#include "core/common/error.h"

namespace duo {

int64_t prunedCount(int64_t count, double sparsity) {
  return static_cast<int64_t>(std::llround(sparsity * static_cast<double>(count)));
}

namespace {

// A float's bits as an unsigned key in the same order (negatives below positives).
inline uint32_t orderedKey(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// CPU f32: the lowest nPrune of n scores by a radix select (a histogram of the keys' top 12 bits
// picks the bucket that holds the cut, nth_element inside that bucket finds it), then one pass
// marks the entries below the cut and, of those equal to it, the first ones in index order.
// Three passes over the scores instead of a partial sort of all of them; each pass is split into
// contiguous chunks across the threads (a chunk's histogram and candidates are its own, the ties
// each chunk may prune follow from the chunks before it), the result independent of the threads.
void pruneLowestF32(const float* s, int64_t n, int64_t nPrune, bool* keep) {
  constexpr int kShift = 20;
  constexpr size_t kBuckets = size_t(1) << (32 - kShift);
  constexpr int64_t kMinChunk = 32768;  // fewer entries per thread gain less than the fork costs
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n / kMinChunk));
  const auto chunkStart = [&](int64_t c) { return n * c / chunks; };
  std::vector<std::vector<int64_t>> hists(static_cast<size_t>(chunks));
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      std::vector<int64_t>& h = hists[static_cast<size_t>(c)];
      h.assign(kBuckets, 0);
      int64_t* hp = h.data();
      const int64_t e = chunkStart(c + 1);  // (bounds in locals: the counts could alias them)
      for (int64_t i = chunkStart(c); i < e; ++i) ++hp[orderedKey(s[i]) >> kShift];
    }
  });
  std::vector<int64_t>& hist = hists[0];
  for (int64_t c = 1; c < chunks; ++c)
    for (size_t b = 0; b < kBuckets; ++b) hist[b] += hists[static_cast<size_t>(c)][b];
  uint32_t bucket = 0;
  int64_t below = 0;
  while (below + hist[bucket] < nPrune) below += hist[bucket++];
  std::vector<std::vector<uint32_t>> cands(static_cast<size_t>(chunks));  // each chunk's keys in the bucket
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      std::vector<uint32_t>& cc = cands[static_cast<size_t>(c)];
      const int64_t e = chunkStart(c + 1);
      for (int64_t i = chunkStart(c); i < e; ++i) {
        const uint32_t key = orderedKey(s[i]);
        if ((key >> kShift) == bucket) cc.push_back(key);
      }
    }
  });
  std::vector<uint32_t> cand;
  cand.reserve(static_cast<size_t>(hist[bucket]));
  for (const auto& cc : cands) cand.insert(cand.end(), cc.begin(), cc.end());
  const int64_t need = nPrune - below;  // 1..hist[bucket] of the bucket's entries are pruned
  std::nth_element(cand.begin(), cand.begin() + (need - 1), cand.end());
  const uint32_t cut = cand[static_cast<size_t>(need - 1)];
  // Entries equal to the cut that are pruned: need minus the bucket's entries below it, the first
  // ones in index order, so chunk c prunes what is left after the chunks before it.
  int64_t ties = need;
  for (const uint32_t key : cand) ties -= key < cut ? 1 : 0;
  std::vector<int64_t> tiesFrom(static_cast<size_t>(chunks));
  for (int64_t c = 0; c < chunks; ++c) {
    tiesFrom[static_cast<size_t>(c)] = ties;
    for (const uint32_t key : cands[static_cast<size_t>(c)]) ties -= key == cut ? 1 : 0;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t left = tiesFrom[static_cast<size_t>(c)];
      const int64_t e = chunkStart(c + 1);
      for (int64_t i = chunkStart(c); i < e; ++i) {
        const uint32_t key = orderedKey(s[i]);
        bool prune = key < cut;
        if (key == cut && left > 0) {
          prune = true;
          --left;
        }
        keep[i] = !prune;
      }
    }
  });
}

}  // namespace

torch::Tensor keepAllButLowest(const torch::Tensor& scores, double sparsity) {
  auto keep = torch::ones_like(scores, scores.options().dtype(torch::kBool));  // same shape, bool
  const int64_t nPrune = prunedCount(scores.numel(), sparsity);
  if (nPrune <= 0) return keep;
  if (scores.device().is_cpu() && scores.scalar_type() == torch::kFloat32 && scores.is_contiguous()) {
    pruneLowestF32(scores.data_ptr<float>(), scores.numel(), std::min(nPrune, scores.numel()), keep.data_ptr<bool>());
    return keep;
  }
  // topk of the lowest nPrune: indices of exactly nPrune entries, whatever the ties.
  const auto idx = std::get<1>(scores.reshape({-1}).topk(nPrune, 0, /*largest=*/false, /*sorted=*/false));
  keep.view({-1}).index_fill_(0, idx, false);
  return keep;
}

void keepAllButLowestWeightedF32(const float* W, int64_t ldw, const float* f, const bool* pin, int64_t rows,
                                 int64_t cols, double sparsity, bool* keep) {
  const int64_t n = rows * cols;
  const int64_t nPrune = std::min(prunedCount(n, sparsity), n);
  if (nPrune <= 0) {
    std::fill(keep, keep + n, true);
    return;
  }
  std::vector<float> scores(static_cast<size_t>(n));  // [rows, cols]
  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* w = W + r * ldw;
      const float fr = f[r];
      float* out = scores.data() + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) out[c] = (w[c] * w[c]) * fr;  // W.square().mul_(f)'s roundings
      if (pin)
        for (int64_t c = 0; c < cols; ++c)
          if (pin[r * cols + c]) out[c] = std::numeric_limits<float>::infinity();
    }
  });
  pruneLowestF32(scores.data(), n, nPrune, keep);
}

torch::Tensor keepAllButLowestPerRow(const torch::Tensor& scores, double sparsity) {
  DUO_ASSERT(scores.dim() == 2);
  auto keep = torch::ones_like(scores, scores.options().dtype(torch::kBool));  // [rows, cols] bool
  const int64_t nPrune = prunedCount(scores.size(1), sparsity);
  if (nPrune <= 0) return keep;
  const auto idx = std::get<1>(scores.topk(nPrune, 1, /*largest=*/false, /*sorted=*/false));  // [rows, nPrune]
  keep.scatter_(1, idx, false);
  return keep;
}

torch::Tensor keepNm(const torch::Tensor& scores, const NmPattern& nm) {
  DUO_ASSERT(scores.dim() == 2 && nm.structured());
  const int64_t rows = scores.size(0), cols = scores.size(1);
  DUO_CHECK(cols % nm.m == 0, "N:M mask ", nm.str(), ": expected a column count divisible by ", nm.m,
            ", got ", cols);
  const auto grouped = scores.reshape({rows, cols / nm.m, nm.m});  // [rows, groups, M]
  auto keep = torch::ones_like(grouped, grouped.options().dtype(torch::kBool));
  const auto idx = std::get<1>(grouped.topk(nm.n, 2, /*largest=*/false, /*sorted=*/false));  // [rows, groups, N]
  keep.scatter_(2, idx, false);
  return keep.reshape({rows, cols});
}

double zeroFraction(const torch::Tensor& t) {
  if (t.numel() == 0) return 0.0;
  const auto zeros = t.scalar_type() == torch::kBool ? t.logical_not().sum() : t.eq(0).sum();
  return static_cast<double>(zeros.item<int64_t>()) / static_cast<double>(t.numel());
}

void checkMaskSpec(const MaskSpec& spec, int64_t cols, const std::string& who) {
  if (spec.nm.structured()) {
    DUO_CHECK(spec.nm.n >= 1 && spec.nm.n < spec.nm.m, who, ": N:M pattern ", spec.nm.str(),
              ": expected 1 <= N < M");
    DUO_CHECK(cols % spec.nm.m == 0, who, ": N:M pattern ", spec.nm.str(), " needs the input width to be a ",
              "multiple of ", spec.nm.m, ", got ", cols);
  } else {
    DUO_CHECK(spec.sparsity >= 0.0 && spec.sparsity < 1.0, who, ": weight sparsity expected in [0, 1), got ",
              spec.sparsity);
  }
}

}  // namespace duo
