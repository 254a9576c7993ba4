// SPDX-License-Identifier: GPL-3.0-or-later
// Per-layer, per-projection weight and activation sparsity: what the user edits in the window's
// table, saves as JSON and passes to `duoscope-cli prune --config`. Torch-free value type.
//
// Activation sparsity belongs to an input *site*: q/k/v share one input, gate/up share one, so
// projections of one site must carry the same activation sparsity (validate() says so otherwise).
#pragma once
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_config.h"
#include "core/prune/prune_types.h"

namespace duo {

struct ProjSparsity {
  double weight = 0.0;  // p_w in [0, 1)
  double act = 0.0;     // p_a in [0, 1)
  bool operator==(const ProjSparsity& o) const { return weight == o.weight && act == o.act; }
};

class SparsityConfig {
 public:
  static constexpr const char* kSchema = "duoscope.sparsity/1";

  SparsityConfig() = default;
  // Uniform: every projection of every layer gets (weight, act).
  static SparsityConfig uniform(int numLayers, double weight, double act);

  int numLayers() const { return static_cast<int>(m_layers.size()); }
  const ProjSparsity& at(int layer, Proj p) const;
  void set(int layer, Proj p, ProjSparsity s);
  void setWeight(int layer, Proj p, double w);
  // Sets the activation sparsity of p's whole input site (q/k/v or gate/up together).
  void setSiteAct(int layer, Site s, double a);
  double siteAct(int layer, Site s) const;

  NmPattern nm;                  // weight structure (unstructured when nm.n == 0)
  ActRule actRule = ActRule::TopK;

  // Mean weight sparsity over prunable parameters (needs the shapes) and plain means.
  double meanWeight() const;
  double meanAct() const;
  double parameterWeightedSparsity(const ModelConfig& cfg) const;

  // Throws duo::Error naming `source` (file or "config") and the first fault: values outside
  // [0, 1), NaN, layer count different from numLayers (when numLayers > 0), unequal act sparsity
  // within a site.
  void validate(const std::string& source, int expectLayers = -1) const;

  nlohmann::json toJson() const;
  // Accepts the full form written by toJson() and a short form with only "default" (and optional
  // "layers" overrides); numLayers gives the model's depth for the short form.
  static SparsityConfig fromJson(const nlohmann::json& j, int numLayers, const std::string& source);
  static SparsityConfig load(const std::string& path, int numLayers);  // reads + validates
  void save(const std::string& path) const;                            // atomic write

  bool operator==(const SparsityConfig& o) const;

 private:
  double meanOf(double ProjSparsity::*field) const;  // plain mean of one field over every projection

  std::vector<std::array<ProjSparsity, kNumProj>> m_layers;
};

}  // namespace duo
