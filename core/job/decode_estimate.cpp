// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/decode_estimate.h"

namespace duo {

perf::DecodePrediction predictDecodeFor(const ModelConfig& c, const SparsityConfig& s, int contextTokens,
                                        double bandwidthGbs, const perf::TimingProfile* timing,
                                        kernels::ValueType values, bool int8Inputs) {
  DUO_CHECK(!int8Inputs || values == kernels::ValueType::I8, "decode prediction: int8 inputs need int8 values, got ",
            kernels::valueTypeName(values));
  perf::DecodeInput in;
  in.weightType = values;
  in.int8Inputs = int8Inputs;
  in.shape = perf::shapeOf(c);
  in.contextTokens = contextTokens;
  in.bandwidthGbs = bandwidthGbs;
  in.timing = timing;
  for (int l = 0; l < s.numLayers(); ++l) {
    perf::LayerSparsity layer{};
    for (int p = 0; p < kNumProj; ++p) {  // perf::Projection has Proj's order: q, k, v, o, gate, up, down
      const ProjSparsity& ps = s.at(l, static_cast<Proj>(p));
      layer[static_cast<size_t>(p)] = {ps.weight, ps.act};
    }
    in.layers.push_back(layer);
  }
  return perf::predictDecode(in);
}

}  // namespace duo
