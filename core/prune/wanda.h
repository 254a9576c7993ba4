// SPDX-License-Identifier: GPL-3.0-or-later
// Wanda (Sun et al. 2023): score |W_ij| * ||X_j||, prune per output row, no weight update.
// Internal header (torch).
#pragma once
#include <torch/torch.h>

#include "core/prune/input_stats.h"
#include "core/prune/masks.h"
#include "core/prune/pruned_weight.h"

namespace duo {

// W [n, k]; inputNorms [k] = ||X_j|| up to a common scale (InputStats::inputNorms()). Unstructured:
// exactly prunedCount(k, p) per row; N:M: the N lowest of each group of M per row.
PrunedWeight pruneWanda(const torch::Tensor& W, const torch::Tensor& inputNorms, const MaskSpec& spec);
inline PrunedWeight pruneWanda(const torch::Tensor& W, const InputStats& stats, const MaskSpec& spec) {
  return pruneWanda(W, stats.inputNorms(), spec);
}

}  // namespace duo
