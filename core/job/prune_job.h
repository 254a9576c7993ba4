// SPDX-License-Identifier: GPL-3.0-or-later
// The whole calibration job the window and `duoscope-cli prune` run: load, calibrate layer by
// layer, evaluate, export. Torch-free header: the UI's JobController calls it from a worker thread.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/dist/dist_settings.h"
#include "core/job/memory_plan.h"
#include "core/model/model_ref.h"
#include "core/prune/prune_types.h"
#include "core/prune/sparsity_config.h"
#include "core/prune/sparsity_plan.h"

namespace duo {

struct PruneRequest {
  std::string model;                 // path or alias ("tiny", "smollm2"), as the user gave it
  Method method = Method::DuoGpt;
  SparsityPlan sparsity;             // uniform, a table or a file; N:M and the activation rule
  Score score = Score::Full;          // DuoGPT only
  // DuoGPT residual-correction damping (method section 4 step 4). 0.25: the cross-domain study
  // (docs/results.md, "Outside the calibration text") found it better than 0.5 on every corpus,
  // calibration text and seed, most of all outside the calibration text; 0.5 over-fits there.
  double alpha = 0.25;
  double damp = 0.01;                // Hessian damping lambda
  int blockSize = 128;
  // Calibration corpus (kModelCorpusSourcesHelp). "auto": the model's default, the corpus its
  // training.json names (the bundled tiny model: kjv:calib), else mix:calib; runPrune resolves it
  // (core/data/default_corpora.h) and PruneResult::request holds the corpus used.
  std::string calibSource = "auto";
  int nsamples = 0;                  // 0 = default sized to the model (see defaultCalibration)
  int seqlen = 0;                    // 0 = default
  uint64_t seed = 0;
  bool eval = false;                 // perplexity of the pruned model (and the dense one)
  std::string evalSource = "auto";   // "auto": the held-out split of the model's default (kjv:eval, mix:eval)
  int evalSeqlen = 0;                // 0 = calibration seqlen
  int maxWindows = 0;                // 0 = all windows
  std::string taskFile;              // optional multiple-choice JSONL
  std::string taskFormat = "auto";   // its layout (kMcTaskFormats)
  std::string outDir;                // "" = do not write a checkpoint
  // The checkpoint's dtype: source | f32 | bf16 | f16 | int8 (the decoder projections as
  // compressed-tensors int-quantized int8 with a scale per row, every other tensor in the source's
  // dtype; dense --out-format only).
  std::string outDtype = "source";
  // With outDtype int8, how the kept weights reach their int8 values: "after" (the calibration in
  // f32, each finished layer rounded to nearest: the f32 run's weights rounded), "solve" (the OBS
  // methods round inside their sweep and compensate each rounding error, GPTQ-style; the other
  // methods round to nearest) or "nearest" (every method rounds each solved projection to nearest),
  // the last two seen by the pruned stream and so by the later layers' calibration. In every case
  // the evaluation sees the stored values. "after" is the default: over five seeds the three were
  // level on average and "after" stayed closest to the f32 run (docs/results.md).
  std::string int8Rounding = "after";
  std::string outFormat = "dense";   // projections stored dense | sparse-bitmask (compressed-tensors)
  int64_t maxShardBytes = 0;         // 0 = 5 GB shards (HF's default)
  std::string streamDtype = "f32";   // calibration streams: f32 | bf16
  std::string computeDtype = "f32";  // calibration's matrix products: f32 | bf16 | auto (bf16 where native: resolveComputeDtype)
  std::string streamDevice = "auto"; // on CUDA, where the streams live: auto | device | host
  std::string siteInputs = "auto";   // keep | recompute | auto (keep when the memory plan fits with them)
  std::string device;                // "" = auto (cuda when available), "cpu", "cuda"
  bool memoryCheck = true;           // refuse to start when the memory plan does not fit
  // Data-parallel run (torch.distributed): every rank runs runPrune with the same request; the
  // calibration windows, the evaluation windows and the task items are shared out, the
  // projections' solves spread over the ranks; rank 0 alone writes the checkpoint. World size 1
  // (the default) is one process with no process group.
  DistSettings dist;
};

struct EvalResult {
  bool done = false;
  double perplexity = 0;
  double densePerplexity = 0;
  int64_t tokens = 0;
  int64_t windows = 0;
  int seqlen = 0;
  double accuracy = -1, accuracyNorm = -1, denseAccuracy = -1;  // -1 = no task
  int64_t taskItems = 0;
  std::string taskName;                                            // McTask::name ("" = no task)
  double denseAccuracyNorm = -1;
  double accuracyStderr = 0, accuracyNormStderr = 0, denseAccuracyStderr = 0, denseAccuracyNormStderr = 0;
};

struct PruneResult {
  PruneRequest request;              // with defaults filled in
  SparsityConfig sparsity;           // the config that was applied
  std::vector<ProjRecord> records;
  EvalResult eval;
  double weightSparsity = 0;         // achieved, over all prunable weights
  double actSparsity = 0;            // achieved, mean over sites on calibration data
  double predictedSpeedup = 0;       // end-to-end decode, bytes model
  double secondsTotal = 0, secondsForward = 0, secondsStats = 0, secondsSolve = 0, secondsEval = 0;
  // The OBS methods' solve phase by phase (cholesky, inverse, residual, masks, sweep, update), part
  // of secondsSolve; empty for the other methods and on CUDA.
  std::vector<std::pair<std::string, double>> solvePhases;
  long long peakRssBytes = 0;
  MemoryPlan memoryPlan;             // what the plan said before the run (total_bytes beside peak_rss_bytes)
  std::string outDtype;              // the checkpoint's stored dtype ("BF16", ...; "I8": int8 projections), "" when none
  std::string outFormat;             // "dense" | "sparse-bitmask", "" when none written
  int64_t outBytes = 0;              // tensor bytes written (all shards)
  std::vector<std::string> outShards;
  std::string device;
  std::string streamDevice;          // where calibration kept its streams: the device's name or "cpu"
  std::string siteInputs;            // "keep" or "recompute": what calibration did
  nlohmann::json provenance;         // model hash, data, seed, versions
  int worldSize = 1;                 // ranks that ran the job
  std::string distBackend;           // "gloo" | "nccl" when worldSize > 1
  nlohmann::json toJson() const;     // the `prune --json` document
};

// Default nsamples/seqlen for a model with `params` parameters on this machine.
void defaultCalibration(int64_t params, bool cuda, int* nsamples, int* seqlen);

// The memory plan of the job `req` describes (model headers only, nothing loaded). `model` is
// req.model resolved (ModelRef::resolve); the first form resolves it.
MemoryPlan planPrune(const PruneRequest& req);
MemoryPlan planPrune(const PruneRequest& req, const ModelRef& model);

// Runs the job through the layer streamer: the model stays memory-mapped; the embedding, one
// decoder layer (f32 while it is calibrated) and at the end the head are materialised in turn;
// evaluation windows (dense and pruned) go through each layer as it finishes; the checkpoint is
// written shard by shard as layers finish, beside --out, and renamed into place at the end.
// Before anything heavy, the memory plan is checked (unless req.memoryCheck is false). onRecord is called (on the calling thread) as each projection finishes; progress
// returning false cancels at the next projection boundary or inside the solver: then duo::Cancelled
// is thrown and nothing is written.
// `model` is req.model resolved (its name must be req.model): the run reads its headers, config
// and content hash from it and resolves nothing again; the first form resolves it.
PruneResult runPrune(const PruneRequest& req, const ProgressFn& progress,
                     const std::function<void(const ProjRecord&)>& onRecord = {});
PruneResult runPrune(const PruneRequest& req, const ModelRef& model, const ProgressFn& progress,
                     const std::function<void(const ProjRecord&)>& onRecord = {});

}  // namespace duo
