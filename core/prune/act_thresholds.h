// SPDX-License-Identifier: GPL-3.0-or-later
// Per-site activation thresholds of the `threshold` rule (TEAL): one magnitude per (layer, input
// site), calibrated on calibration data and saved with the exported model. Torch-free value type.
#pragma once
#include <array>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_config.h"

namespace duo {

struct ActThresholds {
  // [numLayers][site] magnitude threshold: an input entry with |x| < t is zeroed. 0 zeroes nothing.
  std::vector<std::array<float, kNumSites>> layers;

  int numLayers() const { return static_cast<int>(layers.size()); }
  void resize(int numLayers) { layers.resize(static_cast<size_t>(numLayers), std::array<float, kNumSites>{}); }
  float at(int layer, Site s) const;       // checked
  void set(int layer, Site s, float t);    // checked, t >= 0 and finite

  // {"layers": [{"qkv": t, "o": t, "gate_up": t, "down": t}, ...]}
  nlohmann::json toJson() const;
  // Throws duo::Error naming the field when malformed; expectedLayers >= 0 also checks the count.
  static ActThresholds fromJson(const nlohmann::json& j, int expectedLayers = -1);
};

}  // namespace duo
