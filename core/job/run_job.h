// SPDX-License-Identifier: GPL-3.0-or-later
// One run, the way `duoscope-cli prune` and the window's Run both make it: calibrate and evaluate
// (runPrune), the timing profile's prediction, the decode speed measured on the pruned checkpoint,
// and the run record saved in a run store, with a marker there while it runs (a process killed on
// the way leaves an interrupted run). The front ends only translate flags or widgets into a
// RunRequest and show the RunOutcome. Torch-free header: the UI's JobController calls it from a
// worker thread.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/io/run_record.h"
#include "core/io/speed_check.h"
#include "core/job/prune_job.h"
#include "kernels/types.h"

namespace duo {
namespace perf {
struct TimingProfile;
}

struct RunRequest {
  PruneRequest prune;
  // prune.model resolved, when the front end has done it (the CLI reads the headers for its
  // calibration advice); empty: runJob resolves it. Either way the run resolves it once.
  ModelRef model;
  // Time the pruned model's decode against its own weights run densely (perf::measureCheckpointDecode:
  // perf::kMeasure* steps and pairs). The checkpoint is prune.outDir, or a temporary folder removed
  // afterwards when no checkpoint is asked for.
  bool measureSpeed = false;
  // More evaluation corpora beside prune.evalSource (needs prune.eval): the pruned checkpoint
  // (prune.outDir, else a temporary one) and the dense model are evaluated on each with the same
  // window length and count, so one run reports in-domain and held-out perplexity together.
  std::vector<std::string> alsoEval;
  // A timing profile (`bench calibrate`, File > Load timing profile): the record's
  // calibrated_speedup, and the measured pruned model runs each projection on the kernel it finds
  // fastest. Null: none.
  std::shared_ptr<const perf::TimingProfile> timing;
  // Storage of the weight values the decode speed is predicted and measured with (the decode
  // engine's value format: f32, f16, bf16 or int8 with a scale per row). The checkpoint's own dtype
  // is prune.outDtype.
  kernels::ValueType values = kernels::ValueType::F32;
  // With int8 values: the products round their inputs to int8 too (the engine's --int8-inputs).
  bool int8Inputs = false;
  // The run store folder ("": no marker, no record).
  std::string runsDir;
  // Save the run record there (false: the marker only, e.g. a run that re-makes a stored run's
  // checkpoint and must not add a second record).
  bool saveRecord = true;
  // What fails after calibration (the timing profile's prediction, the speed measurement) throws
  // once the record is saved (true: the CLI), or is reported in RunOutcome (timingError, measureError) with the
  // run kept (false: the window).
  bool strict = true;
};

// One more evaluation corpus's perplexities (RunRequest::alsoEval).
struct AlsoEval {
  std::string corpus;
  double perplexity = 0, densePerplexity = 0;
  int64_t tokens = 0, windows = 0;
  int seqlen = 0;
};

struct RunOutcome {
  PruneResult result;
  SpeedCheck speed;                 // speed.measured() false when not measured
  bool cacheResident = false;       // the measured decode's weights fit in the last-level cache
  double calibratedSpeedup = 0;     // the timing profile's prediction (0: no profile, or it failed)
  std::string timingError;          // why the prediction failed ("" when it did not)
  std::string measureError;         // why the measurement failed ("" when it did not)
  std::vector<AlsoEval> alsoEvals;  // in RunRequest::alsoEval's order
  RunRecord record;                 // as saved (record.id empty when not saved)
  nlohmann::json json;              // the `prune --json` document (run_id when saved)
};

// Runs `req` on the calling thread. Only rank 0 of a distributed run (req.prune.dist) measures,
// marks and records; the other ranks return their PruneResult alone. Progress returning false
// cancels (duo::Cancelled, nothing written, the marker removed). onRecord as in runPrune. The
// process's peak RSS is reset first, so the record's peak_rss_bytes is this run's.
RunOutcome runJob(const RunRequest& req, const ProgressFn& progress,
                  const std::function<void(const ProjRecord&)>& onRecord = {});

// A run record holding a request's settings (model, method, options, data, sparsity) and
// `records`, with no metrics: what the recipe and CSV exports of unsaved work read.
RunRecord recordOfRequest(const PruneRequest& request, const std::vector<ProjRecord>& records = {});

}  // namespace duo
