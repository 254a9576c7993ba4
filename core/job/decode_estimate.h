// SPDX-License-Identifier: GPL-3.0-or-later
// The bytes model's end-to-end decode prediction for a model and a sparsity config: what the
// window's live totals and a run's `predicted_speedup` both show. Torch-free.
#pragma once

#include "core/engine/bytes_model.h"
#include "core/model/model_config.h"
#include "core/prune/sparsity_config.h"

namespace duo {

// The decode step every reported prediction uses: `predicted_speedup`, `calibrated_speedup`, the
// window's totals, the sensitivity table's times.
constexpr int kDecodeContextTokens = 256;
constexpr double kDecodeBandwidthGbs = 20.0;

// One decode step (batch 1) with `contextTokens` in the KV cache; every projection on its cheapest
// kernel. The speedup does not depend on bandwidthGbs (it scales both sides). With a timing profile
// (not empty) the measured lines replace bytes / bandwidth (perf::kernelSeconds), and the parts
// without a line stream at the profile's measured bandwidth instead of bandwidthGbs. `values`: the
// weight values' storage in both the dense and the sparse step (the decode engine's --values);
// `int8Inputs`: with int8 values, the inputs rounded to int8 too (the engine's --int8-inputs: the
// sparse projections on act-sparse, not the packed formats).
perf::DecodePrediction predictDecodeFor(const ModelConfig& model, const SparsityConfig& sparsity,
                                        int contextTokens = kDecodeContextTokens,
                                        double bandwidthGbs = kDecodeBandwidthGbs,
                                        const perf::TimingProfile* timing = nullptr,
                                        kernels::ValueType values = kernels::ValueType::F32, bool int8Inputs = false);
// The same at the reported context with a timing profile (`calibrated_speedup`).
inline perf::DecodePrediction predictDecodeFor(const ModelConfig& model, const SparsityConfig& sparsity,
                                               const perf::TimingProfile* timing,
                                               kernels::ValueType values = kernels::ValueType::F32,
                                               bool int8Inputs = false) {
  return predictDecodeFor(model, sparsity, kDecodeContextTokens, kDecodeBandwidthGbs, timing, values, int8Inputs);
}

}  // namespace duo
