// SPDX-License-Identifier: GPL-3.0-or-later
// The shared OBS solver of SparseGPT and DuoGPT (method section 4). Internal header (torch).
//
// DuoGPT minimises ||W' Xs - W Xd||^2 column by column: pruning column j's entries costs the
// SparseGPT term and the later columns compensate both the pruned weights (-e U[j, j+1:]) and
// the residual W_j dX_j that the dense model's output exposes (+w D[j, j+1:]).
// SparseGPT is the same solver with dX = 0 (M = 0, a = 0): ObsOptions::useResidual = false.
//
// Two phases, so that q/k/v (and gate/up) share one factorisation of their common input:
//   ObsFactor f = factorObs(stats, opts);          // steps 1-5 (dead inputs, damping, U, D, score)
//   PrunedWeight r = pruneObs(W, f, opts, spec);   // step 6 (masks, sweep, lazy batch update)
#pragma once
#include <cstdint>

#include <torch/torch.h>

#include "core/prune/input_stats.h"
#include "core/prune/masks.h"
#include "core/prune/prune_types.h"
#include "core/prune/pruned_weight.h"

namespace duo {

// Wall seconds of the solver's phases, accumulated when ObsOptions::profile points at one
// (`duoscope-cli bench solver`; CUDA work is drained at each phase boundary only then).
struct ObsProfile {
  double cholesky = 0;   // damped H = L L^T (with retries)
  double inverse = 0;    // U, the upper factor of H^-1, from the factor of P H P (its triangular inverse by halves)
  double residual = 0;   // Q = M U^T, D = alpha triu(Q, 1) U (DuoGPT)
  double masks = 0;      // choosing each block's mask (the lowest scores of the block)
  double sweep = 0;      // the column-by-column sweep inside each block (N:M masks included)
  double update = 0;     // the lazy updates of the columns after each sub-block and block
};

struct ObsOptions {
  bool useResidual = true;      // false: SparseGPT (ignore M and a even when the stats have them)
  Score score = Score::Full;    // step 5: full | marginal | sparsegpt
  double alpha = 0.25;          // step 4: weight of the residual correction in D (PruneRequest::alpha)
  double damping = 0.01;        // step 2: lambda, relative to mean(diag H)
  int64_t blockSize = 128;      // step 6: B, columns per mask block / lazy batch
  // Step 6 with int8 values (GPTQ's joint quantisation, as SparseGPT's paper runs it): each kept
  // weight is rounded to its row's int8 grid when the sweep reaches it and the rounding error is
  // compensated by the later columns like a pruned weight's. The result is on the grid the
  // checkpoint writer and the int8 kernels use (kernels::int8RowScale: largest magnitude / 127), so
  // quantising it again reproduces it exactly: the row's largest entry coming in is always kept and
  // ends at exactly 127 steps (pruneObs runs the sweep twice for that; obs_solver.cpp says why).
  bool int8Values = false;
  ObsProfile* profile = nullptr;  // when set, phase times are added to it
};

// Everything the sweep needs about one input site, computed once and shared by its projections.
struct ObsFactor {
  torch::Tensor U;          // [k, k] upper Cholesky factor of the damped H^-1 (H^-1 = U^T U)
  torch::Tensor D;          // [k, k] alpha * triu(Q, 1) U, Q = M U^T; undefined without residual
  torch::Tensor colScore;   // [k] f_j with S_ij = W_ij^2 * f_j for the chosen score
  torch::Tensor b;          // [k] b_j = sum_{l>j} Q_jl^2 (zeros without residual)
  torch::Tensor c;          // [k] c_j = Q_jj / U_jj      (zeros without residual)
  torch::Tensor a;          // [k] a_j = ||dX_j||^2       (zeros without residual)
  torch::Tensor dead;       // [k] bool: H_jj == 0 (input never non-zero); those columns are zeroed
  double dampingUsed = 0;   // lambda actually applied (raised x10 per failed Cholesky, at most 4 times)
  bool residual = false;    // whether D/b/c/a carry the residual terms
};

// Steps 1-5 from the statistics (not modified). Works in the statistics' dtype and device.
ObsFactor factorObs(const InputStats& stats, const ObsOptions& opts);
// The same, taking the statistics' H instead of copying it (stats.H() is undefined after; M and a
// are read, not taken): one k x k matrix less at the peak.
ObsFactor factorObs(InputStats&& stats, const ObsOptions& opts);

// Step 6 for one weight W [n, k] (any float dtype; computed in the factor's dtype and device,
// returned in W's). `spec`: unstructured masks prune exactly prunedCount(n * B, p) entries of every
// n x B block at the lowest scores; N:M masks prune, per row, the N lowest scores of each group of M
// columns, chosen when the sweep reaches the group (current weights, as SparseGPT does), so B must
// be a multiple of M. `fixedKeep` [n, k] bool, when given, replaces the mask choice (tests, and
// re-solving with a known mask). Dead-input columns come back zero in any case.
PrunedWeight pruneObs(const torch::Tensor& W, const ObsFactor& f, const ObsOptions& opts, const MaskSpec& spec,
                      const torch::Tensor& fixedKeep = {});

// Convenience: factorObs + pruneObs with useResidual forced (SparseGPT: false, DuoGPT: true).
PrunedWeight pruneSparseGpt(const torch::Tensor& W, const InputStats& stats, const MaskSpec& spec,
                            ObsOptions opts = {});
PrunedWeight pruneDuoGpt(const torch::Tensor& W, const InputStats& stats, const MaskSpec& spec,
                         ObsOptions opts = {});

}  // namespace duo
