// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/model_config.h"

namespace duo {

int64_t ModelConfig::parameterCount() const {
  const int64_t d = hiddenSize;
  const int64_t perLayer = d * qDim() + 2 * d * kvDim() + qDim() * d  // q, k, v, o
                           + 3 * d * intermediateSize                  // gate, up, down
                           + 2 * d                                     // two RMSNorm weights
                           + (attentionBias ? qDim() + 2 * kvDim() : 0);
  return vocabSize * d * (tieWordEmbeddings ? 1 : 2) + numLayers * perLayer + d;
}

const char* projName(Proj p) {
  static const char* kNames[kNumProj] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return kNames[static_cast<int>(p)];
}

bool projFromName(const std::string& name, Proj* out) {
  for (int i = 0; i < kNumProj; ++i) {
    if (name == projName(static_cast<Proj>(i))) {
      *out = static_cast<Proj>(i);
      return true;
    }
  }
  return false;
}

Site siteOf(Proj p) {
  switch (p) {
    case Proj::Q: case Proj::K: case Proj::V: return Site::Qkv;
    case Proj::O: return Site::O;
    case Proj::Gate: case Proj::Up: return Site::GateUp;
    case Proj::Down: return Site::Down;
  }
  return Site::Qkv;
}

const char* siteName(Site s) {
  static const char* kNames[kNumSites] = {"qkv", "o", "gate_up", "down"};
  return kNames[static_cast<int>(s)];
}

}  // namespace duo
