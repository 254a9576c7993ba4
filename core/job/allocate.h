// SPDX-License-Identifier: GPL-3.0-or-later
// Automatic per-layer, per-projection allocation of weight and activation sparsity from a
// sensitivity table (core/prune/sensitivity.h): choose one (p_w, p_a) grid point per projection,
// with one p_a per input site (q/k/v share, gate/up share), minimising the summed predicted
// relative output error under a budget: the bytes model's decode time (a target end-to-end
// speedup) or the kept weights (a target parameter-weighted weight sparsity).
// Method (docs/allocation.md): a Lagrangian sweep (bisection on lambda; for each lambda every site
// independently minimises error + lambda * cost, exactly, over its shared p_a and its projections'
// p_w), then a greedy pass that spends the budget the sweep left over; the best uniform grid point
// that meets the budget is also tried as a starting point, so the result is never worse than it.
// Also OWL's preset: weight sparsity per layer from its outlier ratio, mean kept at the target.
// Torch-free and fast (the window calls it on every slider move): SmolLM2's 30 x 7 x 16 points in
// about a millisecond, 30 x 7 x 100 in a few (tests/unit/test_allocate).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/engine/bytes_model.h"
#include "core/prune/sensitivity.h"
#include "core/prune/sparsity_config.h"

namespace duo {

enum class AllocTarget {
  Speedup,         // predicted end-to-end decode speedup (bytes model) >= value
  WeightSparsity,  // parameter-weighted weight sparsity >= value (a parameter budget)
};
const char* allocTargetName(AllocTarget t);  // "speedup", "weight_sparsity"

// What the allocator minimises.
enum class AllocObjective {
  Auto,      // Loss when the table has loss weights, else Relative
  Relative,  // the summed relative output errors
  Loss,      // the summed loss-weighted errors: predicted increase of the mean token loss (nats)
};
const char* allocObjectiveName(AllocObjective o);  // "auto", "relative", "loss"
bool allocObjectiveFromName(const std::string& name, AllocObjective* out);

struct AllocateOptions {
  AllocTarget target = AllocTarget::Speedup;
  double value = 1.8;
  bool monotone = true;         // use each projection's error made non-decreasing in p_w and p_a (running max)
  ActRule actRule = ActRule::TopK;
  double owlLambda = 0.08;      // OWL: weight sparsity spread, +-owlLambda around the mean
  double owlAct = -1;           // OWL with a weight-sparsity target: activation sparsity (-1: 0)
  // A timing profile (not owned; core/engine/timing_profile.h): speedups are predicted from its
  // measured lines. The table's seconds must come from the same profile (fillDecodeTimes).
  const perf::TimingProfile* timing = nullptr;
  AllocObjective objective = AllocObjective::Auto;
  // Resolves Auto against a table (throws when Loss is asked of a table without loss weights).
  AllocObjective resolvedObjective(const SensitivityTable& t) const;
};

// What a config is predicted to give (errors interpolated bilinearly on the grid, clamped at its
// ends; speedup from the bytes model, exact for any config).
struct ConfigPrediction {
  double speedup = 1.0;
  double error = 0.0;           // summed predicted error over all projections, in the objective's units
  double weightSparsity = 0.0;  // parameter-weighted
  double actSparsity = 0.0;     // mean over projections
};
ConfigPrediction predictConfig(const SensitivityTable& t, const SparsityConfig& c,
                               const AllocateOptions& o = AllocateOptions{});

struct Allocation {
  std::string method;           // "lagrangian", "owl", "uniform"
  AllocObjective objective = AllocObjective::Relative;  // what `predicted.error` and projError measure
  SparsityConfig config;
  ConfigPrediction predicted;
  std::vector<double> projError;  // [layers * 7] predicted error of each projection at its point (objective's units)
  std::vector<double> projRelError;  // [layers * 7] the same as a relative output error
  double lambda = 0;            // the sweep's final multiplier (error per budget fraction)
  int greedyMoves = 0;          // moves the greedy pass made
  double seconds = 0;           // wall time of the allocation
  nlohmann::json toJson() const;  // duoscope.allocation/1 (the config under "config")
};

// Throws duo::Error when the target is out of reach (naming the best the grid can do) or invalid.
// The table needs decode times (fillDecodeTimes) for a speedup target.
Allocation allocate(const SensitivityTable& t, const AllocateOptions& opts);

// OWL-style preset: per layer weight sparsity p + 2 owlLambda (mean(r) - r_l) with r the outlier
// ratios scaled to [0, 1] (more outliers, lower sparsity; mean exactly p), activation sparsity
// uniform; p found by bisection so that the target is met (speedup target: p_a = p).
Allocation owlAllocation(const SensitivityTable& t, const AllocateOptions& opts);

// The uniform config (p_w = p_a = p) that just meets the target (bisection on p): the reference
// an allocation is compared with.
Allocation uniformAllocation(const SensitivityTable& t, const AllocateOptions& opts);

}  // namespace duo
