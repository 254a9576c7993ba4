// SPDX-License-Identifier: GPL-3.0-or-later
// Statistics of one input site over the calibration tokens (method section 3), SparseGPT-style:
// accumulate (addBatch), solve (obs_solver.h, wanda.h read them), release (free).
// Projections that share an input (q/k/v; gate/up) share one InputStats. Internal header (torch).
//
// With Xd the input in the dense model, Xs the sparsified input in the model pruned so far and
// dX = Xd - Xs (all [k, m] in the method's notation; here token-major [m, k]):
//   H = Xs Xs^T   [k, k]   always
//   M = dX Xs^T   [k, k]   when residual tracking is on (DuoGPT)
//   a_j = ||dX_j||^2 [k]   when residual tracking is on
//   A = dX dX^T   [k, k]   when error tracking is on (the fourth statistic: the output error
//                          ||W' Xs - W Xd||^2 is a quadratic form in H, M and A, see outputError)
// All four share one scale 2/m over the m tokens seen (SparseGPT's convention).
//
// Each batch's products are computed in the statistics' dtype and summed in f64; the first read
// (H(), M(), ..., or a solver taking them) scales the sums by 2/m and casts them to the dtype, and
// no batch can be added after that. The statistics therefore do not depend on how the tokens were
// batched, ordered or split over the ranks of a data-parallel job (allReduce) beyond f64 rounding,
// far below f32's: one process and several give the same f32 matrices, so the same masks (the
// OBS solve is chaotic at f32 rounding: on the tiny model a rounding-level change of H moved
// perplexity by 1-10%).
// Memory: while accumulating 8 k^2 bytes per matrix (f64); reading converts them one at a time
// (f64 and dtype copies side by side), then k^2 in the dtype each (f32 k = 1536: 9 MiB; k = 28672:
// 3.1 GiB per matrix).
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace duo {

class Collective;

// bf16 products (StatsOptions::gemmDtype, CalibrateOptions::computeDtype) mean: operands rounded to
// bf16, products accumulated in f32. On CUDA and on CPUs with AVX-512 LibTorch computes them in bf16
// (tensor cores, oneDNN). On a CPU without AVX-512 its bf16 GEMM is a reference loop on one thread
// that also rounds its partial sums to bf16 (H off by 12% in TestSolver::bf16ProductsNearF32 on such
// a CPU), so there the operands are rounded to bf16 and kept in f32, and the product runs in f32:
// the same operands, f32 accumulation, at f32's speed (bf16ProductsEmulated).
bool bf16ProductsEmulated(const torch::Device& device);
// x rounded to bf16: a bf16 tensor, or, emulated, the rounded values in f32.
torch::Tensor bf16Operand(const torch::Tensor& x, bool emulated);

// Row panels in which the sums' upper parts (H, and M with upperM) are accumulated where they are
// products by panels (H on the CPU in f32 is one ssyrk: gramUpperF32), and the flops of one such
// upper triangle from two [tokens, k] operands, 2 tokens k (k + 1) / 2, without what the panels
// repeat on their diagonal squares (benchmarks count with it: that work shows as a lower rate).
// 128 rows: at k = 576, 21% of the triangle's flops repeated instead of 256 rows' 40%, at the same
// rate per flop (2 threads, 2048 tokens: M's upper part 5.8 ms against 6.5 ms).
constexpr int64_t kStatsPanelRows = 128;
double upperSumFlops(int64_t k, int64_t tokens);

struct StatsOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;  // f64 for tests that check identities to 1e-10
  bool trackResidual = true;  // M and a (needed by DuoGPT; SparseGPT/Wanda need only H)
  bool trackError = true;     // A, for the exact relative output error (relativeOutputError);
                              // only with trackResidual
  bool diagonalOnly = false;  // only diag(H), k numbers (Wanda's input norms); H() stays undefined.
                              // Needs trackResidual off.
  bool upperM = false;        // M on and above its diagonal only (M() upper triangular, half the
                              // product's flops): all the OBS solver reads of M. Not with trackError
                              // (relativeOutputError needs all of M).
  // The Gram products' dtype: f32 (or `dtype`), or bf16 (f32 accumulation inside each product; its
  // result added to the f64 sums unrounded where bf16ProductsUnrounded (bf16_gemm.h), else rounded
  // to bf16 and added a slice of 1024 tokens at a time, so that the rounding of each partial sum
  // is averaged over the slices).
  torch::ScalarType gemmDtype = torch::kFloat32;
};

class InputStats {
 public:
  InputStats(int64_t k, StatsOptions opts = {});

  // xs [..., k]: the sparsified input the pruned layer sees; xd [..., k]: the dense model's input
  // at the same tokens. xd undefined means xd == xs (dX = 0); giving xd without residual tracking
  // throws. Any dtype/device: cast to the
  // statistics'. Two or three GEMMs per call, no per-token work.
  void addBatch(const torch::Tensor& xs, const torch::Tensor& xd = {});

  int64_t k() const { return m_k; }
  int64_t tokens() const { return m_tokens; }
  const StatsOptions& options() const { return m_opts; }
  bool hasResidual() const { return m_opts.trackResidual; }
  bool hasError() const { return m_opts.trackError; }

  const torch::Tensor& H() const { return finalized().m_H; }  // [k, k], undefined with diagonalOnly
  const torch::Tensor& M() const { return finalized().m_M; }  // [k, k], undefined unless trackResidual;
                                                              // upper triangular with upperM
  const torch::Tensor& a() const { return finalized().m_a; }  // [k], undefined unless trackResidual
  const torch::Tensor& A() const { return finalized().m_A; }  // [k, k], undefined unless trackError

  // ||Xs_j|| up to the common scale: sqrt(H_jj) [k] (Wanda's input norm).
  torch::Tensor inputNorms() const;

  // Data-parallel calibration: the sums over every rank's tokens, as if one process had seen them
  // all. Before the first read, on every rank.
  void allReduce(Collective& dist);

  void free();  // releases the matrices; tokens() goes back to 0
  torch::Tensor takeH() { return std::move(finalized().m_H); }  // hands H over (the OBS factorisation damps it in place)

 private:
  const InputStats& finalized() const;  // the sums scaled and cast, once

  int64_t m_k;
  StatsOptions m_opts;
  int64_t m_tokens = 0;
  // f64 sums of the products while accumulating (H's and A's upper triangle by row panels).
  mutable torch::Tensor m_sH, m_sM, m_sa, m_sA, m_sd;
  mutable bool m_final = false;
  // The statistics in the dtype, scale 2/m, after the first read.
  mutable torch::Tensor m_H;  // [k, k]
  mutable torch::Tensor m_M;  // [k, k]
  mutable torch::Tensor m_a;  // [k]
  mutable torch::Tensor m_A;  // [k, k]
  mutable torch::Tensor m_d;  // [k] diag(H), diagonalOnly
};

// Relative output error of a pruned weight on the calibration data, from the statistics alone:
//   ||W' Xs - W Xd||^2 / ||W Xd||^2
// With dW = W' - W and E = dW Xs - W dX:
//   ||E||^2    = tr(dW H dW^T) - 2 tr(dW M^T W^T) + tr(W A W^T)     (no cancellation of large terms)
//   ||W Xd||^2 = tr(W (H + M + M^T + A) W^T)
// Without residual tracking dX = 0 and only the first terms remain. Needs trackError when
// trackResidual is on (throws otherwise). W, Wp [n, k]; sums in f64.
double relativeOutputError(const InputStats& stats, const torch::Tensor& W, const torch::Tensor& Wp);

}  // namespace duo
