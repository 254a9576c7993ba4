// SPDX-License-Identifier: GPL-3.0-or-later
// Magnitude pruning: the smallest |W_ij| of the whole projection, no weight update.
// Internal header (torch).
#pragma once
#include <torch/torch.h>

#include "core/prune/masks.h"
#include "core/prune/pruned_weight.h"

namespace duo {

// W [n, k]. Unstructured: exactly prunedCount(n * k, p) entries over the matrix; N:M: per row, the
// N smallest of each group of M.
PrunedWeight pruneMagnitude(const torch::Tensor& W, const MaskSpec& spec);

}  // namespace duo
