// SPDX-License-Identifier: GPL-3.0-or-later
// Small random calibration problems shared by the solver tests: one linear layer with a dense
// input Xd, a perturbed input X (as if earlier layers were pruned) and its activation-sparsified
// Xs. Token-major tensors [m, k].
#pragma once
#include <torch/torch.h>

#include "core/prune/act_sparsity.h"
#include "core/prune/input_stats.h"

namespace duo::test {

struct LayerProblem {
  torch::Tensor W;   // [n, k]
  torch::Tensor Xd;  // [m, k] dense-model input
  torch::Tensor X;   // [m, k] input in the model pruned so far (dense activations)
  torch::Tensor Xs;  // [m, k] X after topk activation sparsity
};

// Inputs with correlated channels (a random mixing plus identity) and per-channel scales spread
// over a decade, as LLM hidden states have; `noise` is the relative perturbation of X vs Xd.
inline LayerProblem makeProblem(uint64_t seed, int64_t n, int64_t k, int64_t m, double actSparsity,
                                double noise = 0.2, torch::ScalarType dtype = torch::kFloat64) {
  torch::manual_seed(seed);
  const auto o = torch::TensorOptions().dtype(torch::kFloat64);
  const auto mix = torch::randn({k, k}, o) / std::sqrt(static_cast<double>(k)) + torch::eye(k, o);  // [k, k]
  const auto scale = torch::pow(10.0, torch::rand({k}, o));                                          // [k]
  LayerProblem p;
  p.Xd = torch::mm(torch::randn({m, k}, o), mix) * scale;                                            // [m, k]
  p.X = p.Xd + noise * p.Xd.abs().mean() * torch::randn({m, k}, o);
  p.Xs = actSparsity > 0 ? sparsifyTopK(p.X, actSparsity) : p.X.clone();
  p.W = torch::randn({n, k}, o);
  p.W = p.W.to(dtype);
  p.Xd = p.Xd.to(dtype);
  p.X = p.X.to(dtype);
  p.Xs = p.Xs.to(dtype);
  return p;
}

// ||W' Xs - W Xd||^2 / ||W Xd||^2 computed directly from the inputs.
inline double directRelError(const torch::Tensor& Wp, const torch::Tensor& W, const torch::Tensor& Xs,
                             const torch::Tensor& Xd) {
  const auto ref = torch::mm(Xd.to(torch::kFloat64), W.to(torch::kFloat64).t());  // [m, n]
  const auto out = torch::mm(Xs.to(torch::kFloat64), Wp.to(torch::kFloat64).t());
  return (out - ref).square().sum().item<double>() / ref.square().sum().item<double>();
}

inline InputStats statsOf(const torch::Tensor& Xs, const torch::Tensor& Xd, int batches = 1,
                          torch::ScalarType dtype = torch::kFloat64) {
  StatsOptions so;
  so.dtype = dtype;
  InputStats s(Xs.size(1), so);
  const int64_t m = Xs.size(0);
  for (int b = 0; b < batches; ++b) {
    const int64_t lo = m * b / batches, hi = m * (b + 1) / batches;
    s.addBatch(Xs.slice(0, lo, hi), Xd.slice(0, lo, hi));
  }
  return s;
}

}  // namespace duo::test
