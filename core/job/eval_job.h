// SPDX-License-Identifier: GPL-3.0-or-later
// `duoscope-cli eval`'s job: perplexity (and optionally multiple-choice accuracy) of a model through
// the layer streamer, with a pruned DuoScope checkpoint's activation rule on. All windows and task
// requests go through layer i before layer i+1 is read, so one layer is resident at a time.
// Torch-free header.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/dist/dist_settings.h"
#include "core/job/memory_plan.h"
#include "core/model/model_ref.h"

namespace duo {

struct EvalRequest {
  std::string model = "tiny";
  std::string corpus = "auto";     // auto (the model's default: core/data/default_corpora.h) | kCorpusSourcesHelp
  int seqlen = 256;
  int maxWindows = 0;               // 0 = all
  int batch = 4;                    // windows per forward
  std::string task;                 // multiple-choice JSONL ("" = none)
  std::string taskFormat = "auto";  // its layout (kMcTaskFormats)
  int taskBatch = 16;
  std::string device;               // "" = auto
  std::string timing;               // a timing profile file for calibrated_speedup ("" = none)
  bool memoryCheck = true;
  DistSettings dist;                // data-parallel: windows and task items shared out over the ranks
};

struct EvalOutcome {
  nlohmann::json json;              // the `eval --json` document
  MemoryPlan memoryPlan;
  bool pruned = false;              // the model carries DuoScope's activation rule
  std::string modelPath;            // resolved
};

// `model` is req.model resolved (ModelRef::resolve; its name must be req.model); the forms
// without it resolve it.
MemoryPlan planEval(const EvalRequest& req);
MemoryPlan planEval(const EvalRequest& req, const ModelRef& model);
EvalOutcome runEval(const EvalRequest& req, const ProgressFn& progress = {});
EvalOutcome runEval(const EvalRequest& req, const ModelRef& model, const ProgressFn& progress = {});

}  // namespace duo
