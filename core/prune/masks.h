// SPDX-License-Identifier: GPL-3.0-or-later
// Weight masks shared by every pruning method: exact counts, so that the sparsity a user asks for
// is the sparsity they get. Internal header (torch). A mask is a bool tensor, true = weight kept.
#pragma once
#include <cstdint>

#include <torch/torch.h>

#include "core/prune/prune_types.h"

namespace duo {

// What a weight mask must achieve: a fraction of zeros (unstructured) or an N:M pattern
// (N of every M consecutive weights of a row pruned; `sparsity` is then ignored).
struct MaskSpec {
  double sparsity = 0.5;  // in [0, 1)
  NmPattern nm;           // structured when nm.n > 0
};

// Number of entries pruned out of `count` at `sparsity`: round-to-nearest, so 0.5 of an even
// count is exactly half.
int64_t prunedCount(int64_t count, double sparsity);

// Keeps all but the prunedCount(numel, sparsity) lowest entries of `scores` over the whole tensor
// (ties broken by topk's order, the count is exact). scores: any shape, f32/f64. Returns bool,
// same shape.
torch::Tensor keepAllButLowest(const torch::Tensor& scores, double sparsity);

// CPU f32, into `keep` [rows, cols] (contiguous): all but the prunedCount(rows * cols, sparsity)
// lowest of the scores W_ij^2 f_i, +infinity where pin_ij (pin [rows, cols] contiguous, or null),
// for W [rows, cols] with row stride ldw and f [rows]. The mask keepAllButLowest gives on
// W.square() * f.unsqueeze(1) (the same float roundings and tie order), on the threads.
void keepAllButLowestWeightedF32(const float* W, int64_t ldw, const float* f, const bool* pin, int64_t rows,
                                 int64_t cols, double sparsity, bool* keep);

// The same per row of a 2-D `scores` [rows, cols]: prunedCount(cols, sparsity) per row.
torch::Tensor keepAllButLowestPerRow(const torch::Tensor& scores, double sparsity);

// N:M: in each row, for each group of M consecutive columns, prunes the N lowest.
// scores [rows, cols] with cols % M == 0 (checked).
torch::Tensor keepNm(const torch::Tensor& scores, const NmPattern& nm);

// Fraction of false entries of a bool mask (or of zero entries of a numeric tensor).
double zeroFraction(const torch::Tensor& t);

// Checks `spec` (sparsity in [0, 1), N:M with 1 <= N < M) and that `cols` splits into groups of M;
// `who` names the projection in the message.
void checkMaskSpec(const MaskSpec& spec, int64_t cols, const std::string& who);

}  // namespace duo
