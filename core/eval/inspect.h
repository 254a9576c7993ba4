// SPDX-License-Identifier: GPL-3.0-or-later
// Per-layer inspection of a pruned model against its dense original on evaluation data: the data
// behind the window's error heatmap and `duoscope-cli inspect`. Both models run side by side over
// the same windows, layer by layer: the dense stream with dense weights and inputs, the pruned
// stream with pruned weights and the checkpoint's activation rule on. Torch-free header.
//
// Errors are squared relative errors, as in the calibration records (ProjRecord::relError):
//   projection (l, p):  sum ||W'_p s(X'_p) - W_p X_p||^2 / sum ||W_p X_p||^2
//     X_p the input of p in the dense stream, X'_p in the pruned stream, s the activation rule;
//   hidden state l:     sum ||h'_l - h_l||^2 / sum ||h_l||^2 after decoder layer l.
// Errors accumulate (errors of earlier layers reach later inputs): this is the end-to-end view,
// the calibration records are the per-layer view on calibration data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/model/model_config.h"

namespace duo {

struct InspectRequest {
  std::string dense;                // model path or alias
  std::string pruned;               // a pruned checkpoint folder (or any model of the same shape)
  std::string corpus = "auto";      // evaluation text; auto: the dense model's default (default_corpora.h)
  int seqlen = 128;
  int maxWindows = 8;               // 0 = all windows
  int batch = 4;                    // windows per forward
  std::string device;               // "" = auto
};

struct InspectProj {
  int layer = 0;
  Proj proj = Proj::Q;
  double relError = 0;        // squared relative output error (above)
  double weightSparsity = 0;  // fraction of zeros in the pruned weight
  double actSparsity = 0;     // fraction of zeros in the input the pruned projection computes with
};

struct InspectLayer {
  int layer = 0;
  double hiddenRelError = 0;  // squared relative error of the hidden state after the layer
};

struct InspectResult {
  std::string dense, pruned, corpus, actRule;  // actRule: "none", "topk", "threshold"
  int seqlen = 0;
  int64_t windows = 0, tokens = 0;
  std::vector<InspectProj> projs;    // layer-major, projections in data-flow order
  std::vector<InspectLayer> layers;
  double weightSparsity = 0;         // over all prunable weights of the pruned model
  double seconds = 0;

  // The `inspect --json` document (keys in docs/cli.md).
  nlohmann::json toJson() const;
};

// Throws duo::Error when the models differ in shape (naming both) or the corpus is too short.
// Both models are read through the layer streamer (one layer of each resident; all windows pass
// layer l before layer l + 1 is read). Progress: stage "inspect", one step per layer; false
// cancels (duo::Cancelled).
InspectResult inspectPruned(const InspectRequest& request, const ProgressFn& progress = {});

}  // namespace duo
