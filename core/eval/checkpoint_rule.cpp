// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/eval/checkpoint_rule.h"

#include <filesystem>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace fs = std::filesystem;

namespace duo {

CheckpointActRule readCheckpointActRule(const std::string& modelPath, int numLayers) {
  CheckpointActRule r;
  const std::string cfgPath = modelPath + "/config.json";
  if (!fs::is_directory(modelPath) || !fs::exists(cfgPath)) return r;
  const auto cfg = nlohmann::json::parse(readFile(cfgPath), nullptr, false);
  DUO_CHECK(!cfg.is_discarded(), cfgPath, ": not valid JSON");
  if (!cfg.is_object() || !cfg.contains("duoscope_activation_sparsity")) return r;
  const auto& act = cfg["duoscope_activation_sparsity"];
  DUO_CHECK(act.is_object() && act.contains("sparsity"), cfgPath,
            ": duoscope_activation_sparsity needs an object with a \"sparsity\" config");
  r.sparsity = SparsityConfig::fromJson(act["sparsity"], numLayers, cfgPath + ": duoscope_activation_sparsity.sparsity");
  try {
    // The topk rule stores an empty list; a threshold rule needs one entry per layer.
    if (act.contains("thresholds")) r.thresholds = ActThresholds::fromJson(act["thresholds"]);
    DUO_CHECK(r.thresholds.numLayers() == 0 || r.thresholds.numLayers() == numLayers, "thresholds for ",
              r.thresholds.numLayers(), " layers, the model has ", numLayers);
    DUO_CHECK(r.sparsity.actRule != ActRule::Threshold || r.thresholds.numLayers() == numLayers,
              "the threshold rule needs thresholds for all ", numLayers, " layers");
  } catch (...) {
    rethrowWithContext(cfgPath + ": duoscope_activation_sparsity.thresholds");
  }
  r.present = true;
  r.rule = actRuleName(r.sparsity.actRule);
  return r;
}

}  // namespace duo
