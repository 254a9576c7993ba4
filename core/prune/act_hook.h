// SPDX-License-Identifier: GPL-3.0-or-later
// The activation-sparsity rule of a run as a forward hook (core/model/llama_model.h InputHook):
// the same function is active in the pruned stream during calibration, at evaluation and in the
// exported model's `eval`, so the numbers a user sees are those of the model they export.
// Internal header (torch).
#pragma once
#include "core/model/llama_model.h"
#include "core/prune/act_thresholds.h"
#include "core/prune/sparsity_config.h"

namespace duo {

// Applies, at (layer, site), topk at config.siteAct(layer, site) or, for the threshold rule,
// sparsifyThreshold with thresholds.at(layer, site). Sites at p_a = 0 pass through. The config and
// thresholds are copied into the hook. Throws (when called) for a layer the config lacks.
InputHook makeActivationHook(const SparsityConfig& config, const ActThresholds& thresholds = {});

// The same rule for one site, for callers that hold an input already.
torch::Tensor applyActivationRule(const SparsityConfig& config, const ActThresholds& thresholds, int layer, Site site,
                                  const torch::Tensor& x);

}  // namespace duo
