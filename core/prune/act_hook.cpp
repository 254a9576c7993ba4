// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/act_hook.h"

#include "core/common/error.h"
#include "core/prune/act_sparsity.h"

namespace duo {

torch::Tensor applyActivationRule(const SparsityConfig& config, const ActThresholds& thresholds, int layer, Site site,
                                  const torch::Tensor& x) {
  const double p = config.siteAct(layer, site);
  if (p <= 0.0) return x;
  if (config.actRule == ActRule::TopK) return sparsifyTopK(x, p);
  DUO_CHECK(layer < thresholds.numLayers(), "activation sparsity: the threshold rule has no threshold for layer ",
            layer, " (", thresholds.numLayers(), " layers calibrated)");
  return sparsifyThreshold(x, thresholds.at(layer, site));
}

InputHook makeActivationHook(const SparsityConfig& config, const ActThresholds& thresholds) {
  return [config, thresholds](int layer, Site site, const torch::Tensor& x) {
    return applyActivationRule(config, thresholds, layer, site, x);
  };
}

}  // namespace duo
