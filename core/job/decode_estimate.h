// The bytes model's end-to-end decode prediction for a model and a sparsity config: what the
// window's live totals and a run's `predicted_speedup` both show. Torch-free.
#pragma once

#include "core/model/model_config.h"
#include "core/perf/bytes_model.h"
#include "core/prune/sparsity_config.h"

namespace duo {

// One decode step (batch 1) with `contextTokens` in the KV cache; every projection on its cheapest
// kernel. The speedup does not depend on bandwidthGbs (it scales both sides). With a timing profile
// (not empty) the measured lines replace bytes / bandwidth (perf::kernelSeconds).
perf::DecodePrediction predictDecodeFor(const ModelConfig& model, const SparsityConfig& sparsity,
                                        int contextTokens = 256, double bandwidthGbs = 20.0,
                                        const perf::TimingProfile* timing = nullptr);

}  // namespace duo
