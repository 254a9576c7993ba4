// SPDX-License-Identifier: GPL-3.0-or-later
// One JSON document per pruning run (schema `duoscope.run-record/1`, docs/run-records.md): what
// was pruned (model identity with content hash), with which data, method, options and sparsity
// config, what came out (per-projection records, metrics, speed, timings, memory) and where
// (versions, device). The run store keeps them; `runs list|show|compare`, the exports and the
// window's runs panel read them. Torch-free.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/prune/prune_types.h"
#include "core/io/speed_check.h"
#include "core/prune/sparsity_config.h"

namespace duo {

// One number measured on the run's models.
struct RunMetric {
  std::string kind;    // "perplexity" | "accuracy"
  std::string metric;  // "perplexity" | "acc" | "acc_norm"
  std::string model;   // "pruned" | "dense"
  double value = 0;
  std::optional<double> stderrValue;  // accuracy: standard error of the mean
  std::string data;    // perplexity: the corpus ("kjv:eval"); accuracy: the task name
  int seqlen = 0;      // perplexity: window length (0 for accuracy)
  int64_t count = 0;   // perplexity: predicted tokens; accuracy: items
  int64_t windows = 0; // perplexity: windows (0 for accuracy)
  bool sameKey(const RunMetric& o) const { return kind == o.kind && metric == o.metric && model == o.model; }
};

struct RunRecord {
  static constexpr const char* kSchema = "duoscope.run-record/1";

  std::string id;       // unique in a store, sorts by time: "20261129-093512-042-duogpt"
  std::string created;  // ISO 8601 UTC, "2026-11-29T09:35:12Z"

  struct Model {
    std::string path, name, format, architecture, sha256;  // sha256 of the file ("" for a folder)
    int64_t parameters = 0;
    int layers = 0;
  } model;
  struct Data {
    std::string corpus;     // calibration source as given ("kjv:calib", "mix:calib:gcide", a file)
    std::string split;      // "calib" for kjv:calib, mix:calib and mix:calib:DOMAIN; "" for a file
    std::string tokenizer;  // "bpe-bytelevel" | "spm"
    int nsamples = 0, seqlen = 0;
    uint64_t seed = 0;
  } data;
  std::string method;      // methodName(): "duogpt", "sparsegpt", ...
  nlohmann::json options;  // {"act_rule", "score", "alpha", "damp", "block_size", "nm"}
  SparsityConfig sparsity; // the full per-layer target config that was applied
  std::vector<ProjRecord> records;
  double weightSparsity = 0, actSparsity = 0;  // achieved
  std::vector<RunMetric> metrics;
  double predictedSpeedup = 0;                 // end-to-end decode, bytes model
  std::optional<double> measuredSpeedup;       // from a benchmark; null until measured
  std::optional<SpeedCheck> speedCheck;        // that measurement's spread, threads and trust flags
  std::optional<double> calibratedSpeedup;     // a timing profile's prediction; null without one
  std::string timingProfile;                   // that profile's file
  std::string values = "f32";                  // weight value storage the speeds are for (f32 | f16 | bf16 | int8)
  bool int8Inputs = false;                     // with int8: the inputs rounded to int8 too (--int8-inputs)
  std::map<std::string, double> timings;       // seconds: total, forward, stats, solve, eval
  long long peakRssBytes = 0;
  std::string duoscopeVersion, libtorchVersion, device;
  std::string outDir;                          // the pruned checkpoint, "" when none was written

  nlohmann::json toJson() const;
  // Accepts this schema and `duoscope.run/1` (what `prune --json` prints and `--out` writes as
  // duoscope.json). Throws duo::Error naming `source` and the missing or mistyped field.
  static RunRecord fromJson(const nlohmann::json& j, const std::string& source);
  static RunRecord load(const std::string& path);  // reads + fromJson

  // The metric (kind, metric, model), or nullptr.
  const RunMetric* findMetric(const std::string& metric, const std::string& model) const;
  // How a metric's data relates to the calibration corpus (domainRelation: "in-domain",
  // "held-out", "mixed"); "" for accuracy metrics (their data is a task name). toJson() writes it
  // as the metric's "domain", and data.domains as the calibration corpus's domains.
  std::string domainOf(const RunMetric& m) const;
  // "duogpt W50/A50" (mean target sparsities), for lists and legends.
  std::string label() const;
};

}  // namespace duo
