// SPDX-License-Identifier: GPL-3.0-or-later
// Two run records side by side: their metrics (matched by metric and model), headline numbers,
// and per-projection differences of achieved sparsity and error (matched by layer and projection).
// `duoscope-cli runs compare` prints it; the window's compare dialog shows it. Torch-free.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/run_record.h"

namespace duo {

struct RunComparison {
  std::string a, b;  // ids (or labels when unsaved)
  struct Row {       // one number: a and b (nullopt when a run lacks it), b - a
    std::string name;  // "perplexity (pruned, kjv:eval)", "weight_sparsity", ...
    std::optional<double> a, b;
    std::optional<double> diff() const { return a && b ? std::optional<double>(*b - *a) : std::nullopt; }
  };
  std::vector<Row> summary;  // metrics, then achieved sparsities, predicted/measured speedup, total seconds
  struct LayerRow {
    int layer = 0;
    Proj proj = Proj::Q;
    double weightA = 0, weightB = 0;  // achieved weight sparsity
    double actA = 0, actB = 0;        // achieved activation sparsity
    double errA = 0, errB = 0;        // rel_error
  };
  std::vector<LayerRow> layers;  // projections present in both, in a's order

  // {"a", "b", "summary": [{"name", "a", "b", "diff"}], "layers": [{"layer", "proj",
  //  "weight_sparsity": {a, b, diff}, "act_sparsity": {...}, "rel_error": {...}}]}
  nlohmann::json toJson() const;
  // A fixed-width table for terminals.
  std::string toText() const;
};

RunComparison compareRuns(const RunRecord& a, const RunRecord& b);

}  // namespace duo
