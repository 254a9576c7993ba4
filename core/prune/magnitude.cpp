// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/magnitude.h"

#include "core/common/error.h"

namespace duo {

PrunedWeight pruneMagnitude(const torch::Tensor& W, const MaskSpec& spec) {
  DUO_CHECK(W.dim() == 2, "magnitude pruning: expected a weight [n, k], got ", W.sizes());
  checkMaskSpec(spec, W.size(1), "magnitude pruning");
  const auto w = W.detach();
  const auto scores = w.abs();  // [n, k]
  const auto keep = spec.nm.structured() ? keepNm(scores, spec.nm) : keepAllButLowest(scores, spec.sparsity);
  return {w * keep, keep};
}

}  // namespace duo
