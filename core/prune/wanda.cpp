// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/wanda.h"

#include "core/common/error.h"

namespace duo {

PrunedWeight pruneWanda(const torch::Tensor& W, const torch::Tensor& inputNorms, const MaskSpec& spec) {
  DUO_CHECK(W.dim() == 2 && inputNorms.dim() == 1 && inputNorms.size(0) == W.size(1),
            "Wanda: expected a weight [n, k] and input norms [k], got ", W.sizes(), " and ", inputNorms.sizes());
  checkMaskSpec(spec, W.size(1), "Wanda");
  const auto w = W.detach();
  const auto scores = w.abs() * inputNorms.to(w.options()).unsqueeze(0);  // [n, k]
  const auto keep = spec.nm.structured() ? keepNm(scores, spec.nm) : keepAllButLowestPerRow(scores, spec.sparsity);
  return {w * keep, keep};
}

}  // namespace duo
