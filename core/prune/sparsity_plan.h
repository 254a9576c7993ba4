// SPDX-License-Identifier: GPL-3.0-or-later
// How a job's sparsity is given, before the model's depth is known: exactly one source (uniform
// weight and activation sparsity, an explicit per-layer table, or a config file) plus the N:M
// pattern and the activation rule that override it. resolve() turns it into the validated
// SparsityConfig for a model of a given depth; it is the one place a request's sparsity is checked.
// Torch-free value type: the CLI's flags, the window's table and the workspace file all make one.
#pragma once
#include <string>

#include "core/prune/prune_types.h"
#include "core/prune/sparsity_config.h"

namespace duo {

class SparsityPlan {
 public:
  enum class Source {
    Uniform,  // every projection of every layer at (weight, act)
    Table,    // an explicit per-layer, per-projection table
    File,     // a duoscope.sparsity/1 file, read against the model (docs/sparsity-config.md)
  };
  static constexpr double kDefaultWeight = 0.5;
  static constexpr double kDefaultAct = 0.5;

  // Uniform at (kDefaultWeight, kDefaultAct), unstructured, top-k.
  SparsityPlan() = default;
  static SparsityPlan uniform(double weight, double act);
  // The table's own N:M pattern and activation rule become the plan's. A table of 0 layers says
  // nothing per layer: the plan is uniform at the defaults with the table's pattern and rule.
  static SparsityPlan table(const SparsityConfig& config);
  static SparsityPlan file(const std::string& path);

  Source source() const { return m_source; }
  // Uniform: the pair; other sources: the defaults.
  double uniformWeight() const { return m_source == Source::Uniform ? m_weight : kDefaultWeight; }
  double uniformAct() const { return m_source == Source::Uniform ? m_act : kDefaultAct; }
  // Table: the table as given (its own pattern and rule); other sources: a table of 0 layers with
  // the plan's pattern and rule (what table() of it gives back).
  SparsityConfig table() const;
  // File: its path; other sources: "".
  const std::string& path() const { return m_path; }
  // What error messages name: the file's path, "uniform sparsity" or "sparsity table".
  std::string sourceName() const;

  // When structured, replaces the source's weight structure.
  NmPattern nm;
  // The activation rule of a uniform or table source; a file names its own (act_rule).
  ActRule actRule = ActRule::TopK;

  // The config for a model of `layers` decoder layers, validated once, here. Throws duo::Error
  // naming sourceName() and the first fault: a value outside [0, 1), a table or file for another
  // depth, unequal activation sparsity within an input site, a file that cannot be read.
  SparsityConfig resolve(int layers) const;

  bool operator==(const SparsityPlan& o) const;

 private:
  Source m_source = Source::Uniform;
  double m_weight = kDefaultWeight, m_act = kDefaultAct;  // Uniform
  SparsityConfig m_table;                                 // Table
  std::string m_path;                                     // File
};

}  // namespace duo
