// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/masks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

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
// Three passes over the scores instead of a partial sort of all of them.
void pruneLowestF32(const float* s, int64_t n, int64_t nPrune, bool* keep) {
  constexpr int kShift = 20;
  std::vector<int64_t> hist(size_t(1) << (32 - kShift), 0);
  for (int64_t i = 0; i < n; ++i) ++hist[orderedKey(s[i]) >> kShift];
  uint32_t bucket = 0;
  int64_t below = 0;
  while (below + hist[bucket] < nPrune) below += hist[bucket++];
  std::vector<uint32_t> cand;
  cand.reserve(static_cast<size_t>(hist[bucket]));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = orderedKey(s[i]);
    if ((key >> kShift) == bucket) cand.push_back(key);
  }
  const int64_t need = nPrune - below;  // 1..hist[bucket] of the bucket's entries are pruned
  std::nth_element(cand.begin(), cand.begin() + (need - 1), cand.end());
  const uint32_t cut = cand[static_cast<size_t>(need - 1)];
  int64_t ties = need;  // entries equal to the cut that are pruned: need minus the bucket's entries below it
  for (const uint32_t key : cand) ties -= key < cut ? 1 : 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = orderedKey(s[i]);
    bool prune = key < cut;
    if (key == cut && ties > 0) {
      prune = true;
      --ties;
    }
    keep[i] = !prune;
  }
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
