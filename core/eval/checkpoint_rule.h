// SPDX-License-Identifier: GPL-3.0-or-later
// The activation rule a pruned DuoScope checkpoint carries in its config.json
// (`duoscope_activation_sparsity`: rule, per-layer sparsity, calibrated thresholds). Evaluation,
// accuracy and inspection of a pruned model run with this rule on, so the numbers are those of the
// model the run exported. Torch-free header.
#pragma once
#include <string>

#include "core/prune/act_thresholds.h"
#include "core/prune/sparsity_config.h"

namespace duo {

struct CheckpointActRule {
  bool present = false;      // false: a dense model or a checkpoint without an activation block
  std::string rule = "none"; // "none" | "topk" | "threshold"
  SparsityConfig sparsity;   // per-layer sparsity (its actRule is the rule)
  ActThresholds thresholds;  // the threshold rule's per-site magnitudes (empty for topk)
};

// Reads <modelPath>/config.json when modelPath is an HF folder; anything else (a GGUF file, a
// folder without the block) gives present = false. Throws duo::Error naming config.json when the
// block is there but malformed or made for a different number of layers.
CheckpointActRule readCheckpointActRule(const std::string& modelPath, int numLayers);

}  // namespace duo
