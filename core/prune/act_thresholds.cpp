// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/act_thresholds.h"

#include <cmath>
#include <string>

#include "core/common/error.h"

namespace duo {

float ActThresholds::at(int layer, Site s) const {
  DUO_CHECK(layer >= 0 && layer < numLayers(), "activation thresholds: layer ", layer, " out of range [0, ",
            numLayers(), ")");
  return layers[static_cast<size_t>(layer)][static_cast<size_t>(s)];
}

void ActThresholds::set(int layer, Site s, float t) {
  DUO_CHECK(layer >= 0 && layer < numLayers(), "activation thresholds: layer ", layer, " out of range [0, ",
            numLayers(), ")");
  DUO_CHECK(std::isfinite(t) && t >= 0.0f, "activation threshold layer ", layer, " ", siteName(s),
            ": expected a finite value >= 0, got ", t);
  layers[static_cast<size_t>(layer)][static_cast<size_t>(s)] = t;
}

nlohmann::json ActThresholds::toJson() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& l : layers) {
    nlohmann::json o = nlohmann::json::object();
    for (int s = 0; s < kNumSites; ++s) o[siteName(static_cast<Site>(s))] = l[static_cast<size_t>(s)];
    arr.push_back(o);
  }
  return nlohmann::json{{"layers", arr}};
}

ActThresholds ActThresholds::fromJson(const nlohmann::json& j, int expectedLayers) {
  DUO_CHECK(j.is_object() && j.contains("layers") && j["layers"].is_array(),
            "activation thresholds: expected an object with a \"layers\" array, got ", j.dump().substr(0, 80));
  ActThresholds t;
  const auto& arr = j["layers"];
  if (expectedLayers >= 0)
    DUO_CHECK(static_cast<int>(arr.size()) == expectedLayers, "activation thresholds: expected ",
              expectedLayers, " layers, got ", arr.size());
  t.resize(static_cast<int>(arr.size()));
  for (size_t l = 0; l < arr.size(); ++l) {
    DUO_CHECK(arr[l].is_object(), "activation thresholds layer ", l, ": expected an object");
    for (int s = 0; s < kNumSites; ++s) {
      const char* name = siteName(static_cast<Site>(s));
      DUO_CHECK(arr[l].contains(name) && arr[l][name].is_number(), "activation thresholds layer ", l,
                ": expected a number for \"", name, "\"");
      t.set(static_cast<int>(l), static_cast<Site>(s), arr[l][name].get<float>());
    }
  }
  return t;
}

}  // namespace duo
