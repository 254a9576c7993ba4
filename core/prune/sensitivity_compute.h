// SPDX-License-Identifier: GPL-3.0-or-later
// Computing a SensitivityTable (core/prune/sensitivity.h) from calibration windows. Internal
// header (torch).
//
// One pass of the dense stream through the decoder, one layer resident at a time (the prune job's
// memory pattern, minus the pruned stream): for each layer, each chunk of windows runs through the
// dense layer once with a hook that records the inputs of the 4 sites, and the chunk's output
// replaces it (the stream moves on). Per site, from those inputs X [m, k]:
//   H = X^T X (one GEMM; InputStats, scale 2/m), shared by every grid point;
//   e_w(p_w) = ||(W' - W) X||^2 / ||W X||^2 = tr(dW H dW^T) / tr(W H W^T), exact for the weight W'
//            the estimator's solver returns at p_w (OBS: the SparseGPT sweep from H; Wanda; magnitude);
//   e_a(p_a) = ||W (X - S(X))||^2 / ||W X||^2, topk measured exactly on (up to) actTokens tokens;
//   rho(p_a) = ||X - S(X)||^2 / ||X||^2, the input energy topk drops;
//   error(p_w, p_a) = e_w(p_w) (1 - rho(p_a)) + e_a(p_a)
// (docs/allocation.md: why this combination, and how it compares with real prunes). OWL's outlier
// ratio of each layer comes from the same H: Wanda scores |W_ij| sqrt(H_jj) of all 7 projections,
// the fraction above owlM times their mean.
// Device memory: one layer's weights, the dense stream [N, T, d] f32, the 4 sites' inputs of all
// calibration tokens (N T (3 d + ffn) f32 for LLaMA) and one site's H (k^2 f32).
#pragma once
#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/io/weight_source.h"
#include "core/model/llama_weights.h"
#include "core/prune/sensitivity.h"

namespace duo {

// Fills errors, components, shapes and outlier ratios (not the decode times: core/job does those
// with the bytes model). windows [nsamples, seqlen] i64. progress: done = sites finished of
// 4 x layers; returning false throws duo::Cancelled (checked between chunks and sites).
SensitivityTable computeSensitivity(const LlamaWeights& dense, const torch::Tensor& windows,
                                    const SensitivityOptions& opts, torch::Device device,
                                    const ProgressFn& progress = {});
// The same through the layer streamer (one layer of `dense` resident at a time).
SensitivityTable computeSensitivity(WeightSource& dense, const torch::Tensor& windows, const SensitivityOptions& opts,
                                    torch::Device device, const ProgressFn& progress = {});

// The combination of the two measured parts at one grid point (the formula above).
double combineSensitivity(double weightError, double actError, double actEnergy);

}  // namespace duo
