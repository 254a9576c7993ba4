// SPDX-License-Identifier: GPL-3.0-or-later
// End-to-end decode speed of our engine: tokens/s of KV-cached single-token decoding of a dense
// model against the same model pruned, the pruned one running its projections through the packed
// dual-sparse kernels (core/engine/packed_decode.h), with the bytes model's prediction beside it.
// Behind `duoscope-cli bench decode` (docs/cli.md); measureCheckpointDecode is the one-call form for
// prune/eval reports and the window. Torch-free header.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/engine/bytes_model.h"
#include "core/io/speed_check.h"

namespace duo::perf {

struct DecodeBenchConfig {
  // The dense model (path or alias). Empty: the pruned checkpoint's own weights run densely (a
  // dense mat-vec reads the same bytes whatever the values, so the speed is the same).
  std::string model = "smollm2";
  // A pruned DuoScope checkpoint (its activation rule from config.json is applied). Empty: the
  // dense model with an in-memory magnitude mask at wSparsity and topk at aSparsity.
  std::string pruned;
  double wSparsity = 0.5;
  double aSparsity = 0.5;
  int tokens = 32;    // timed decode steps per repeat
  int repeats = 3;    // dense and pruned repeats interleaved; medians and bests reported
  // More than `repeats` pairs until the pair ratios' interquartile range is within
  // SpeedCheck::kTargetSpread of their median, at most this many (0: exactly `repeats`).
  int maxRepeats = 0;
  bool useHistory = true;  // compare the dense baseline with this machine's history (SpeedHistory)
  int context = 64;   // prompt tokens prefilled (untimed) before the timed steps
  int batch = 1;      // sequences decoded together
  int threads = 0;    // 0: OpenMP's default
  // Storage of the weight values in both engines, dense and pruned (projections, lm_head, embedding
  // rows): f32, f16, bf16 or int8 (one scale per output row). The torch baseline stays f32.
  kernels::ValueType values = kernels::ValueType::F32;
  // With int8 values: both engines round each product's input to int8 (PackedDecoderOptions::int8Inputs).
  bool int8Inputs = false;
  bool torchBaseline = true;  // also time the plain torch decode of the dense model
  // q/k/v and gate/up as one product each in both engines (PackedDecoderOptions::fuse).
  bool fuse = true;
  // After the timed repeats, one more run of each engine with a step profile attached (outside the
  // timed samples): where a step's time goes (DecodeBenchResult::denseParts / prunedParts).
  bool profile = false;
  // Non-empty: the pruned engine's perplexity on this corpus (`kjv:eval`, a file, ...), teacher-forced
  // one decode step at a time through the packed kernels, with `values` and with f32 values: what
  // the value format costs in quality on exactly the arithmetic that decodes.
  std::string qualityCorpus;
  int qualityWindows = 4;   // consecutive windows from the corpus's start
  int qualitySeqlen = 128;  // tokens per window (seqlen - 1 predicted)
  // A timing profile for this model (`bench calibrate`): the pruned model's projections run on the
  // kernels it says are fastest, and the result adds its prediction (calibrated*). Empty: none.
  TimingProfile timing;
};

// Milliseconds per decode step by part, from one profiled run (DecodeBenchConfig::profile).
struct StepParts {
  std::array<double, 7> projectionsMs{};  // q, k, v, o, gate, up, down, summed over the layers
  double sparsifyMs = 0;  // activation sparsification (topk or threshold) before the projections
  double headMs = 0;      // lm_head
  double otherMs = 0;     // norms, RoPE, attention over the cache, SwiGLU, residuals, embedding
  double totalMs = 0;
  double projectionMs() const {
    double s = 0;
    for (double v : projectionsMs) s += v;
    return s;
  }
};

struct DecodeBenchResult {
  DecodeBenchConfig config;
  std::string model;   // resolved dense model path
  std::string pruned;  // resolved pruned path, or "magnitude w<p> + topk a<p> (in memory)"
  int threads = 1;
  double weightSparsity = 0;  // measured fraction of zero projection weights (parameter-weighted)
  double actSparsity = 0;     // mean configured activation sparsity over sites
  std::string actRule;        // "topk", "threshold" or "none"
  std::string kernels;        // which kernel each projection runs on, counted
  int fusedGroups = 0;        // q/k/v and gate/up groups of the pruned engine run as one product
  // Seconds per decode step (all sequences of the batch together), one entry per repeat.
  std::vector<double> denseStepSeconds, prunedStepSeconds, torchStepSeconds;
  double denseTokensPerSecond = 0, prunedTokensPerSecond = 0, torchTokensPerSecond = 0;  // medians
  double denseBestTokensPerSecond = 0, prunedBestTokensPerSecond = 0;                     // fastest repeat
  double measuredSpeedup = 0;   // median dense step / median pruned step
  double bestSpeedup = 0;       // best dense / best pruned
  double predictedSpeedup = 0;  // bytes model (core/job/decode_estimate), same context length
  double predictedDenseTokensPerSecond = 0, predictedPrunedTokensPerSecond = 0;  // at readBandwidthGbs
  double predictedProjectionSpeedup = 0;  // the projections alone, bytes model
  double sparsifiableShare = 0;           // projections' share of a dense step, bytes model
  // With a timing profile: its prediction for the same model, rule and context (0 without one).
  double calibratedSpeedup = 0;
  double calibratedDenseTokensPerSecond = 0, calibratedPrunedTokensPerSecond = 0;
  int timingThreads = 0;                  // threads the profile was measured with
  double readBandwidthGbs = 0;            // measured
  // Bytes a dense step reads (projections + lm_head) against the last-level cache: when they fit,
  // the weights stay in cache between steps, the step is not bound by memory bandwidth and the
  // bytes model's prediction does not apply (the tiny model: 7 MB).
  double denseStepBytes = 0;
  double lastLevelCacheBytes = 0;
  bool cacheResident = false;
  // First step: packed pruned logits vs the torch decode (f32) of the same pruned model + rule; with
  // values other than f32 this includes the rounding of the weights to that type.
  double maxLogitDiff = 0;
  double logitScale = 0;    // max |logit| of that step (for a relative reading)
  double loadBefore = 0, loadAfter = 0;  // 1-minute load average around the run
  // The measured speedup with its spread over the pairs, thread count and trust flags.
  SpeedCheck check;
  StepParts denseParts, prunedParts;  // with config.profile
  bool profiled = false;
  // With config.qualityCorpus: the pruned engine's perplexity with `values` and with f32 values.
  double qualityPerplexity = 0, qualityF32Perplexity = 0;
  std::int64_t qualityTokens = 0;  // predicted tokens
};

DecodeBenchResult runDecodeBench(const DecodeBenchConfig& config, const ProgressFn& progress = {});

// What `prune|eval --measure-speed` and the window's "Measure decode speedup" time: decode steps
// per repeat, and interleaved dense/pruned pairs (at least, at most) until the spread is known.
constexpr int kMeasureTokens = 32;
constexpr int kMeasureMinRepeats = 5;
constexpr int kMeasureMaxRepeats = 15;

// Measured end-to-end decode speedup of a pruned checkpoint (with its activation rule) over its own
// weights run densely, batch 1, both in our engine, with its spread and trust flags (`check`).
// `values`: the weight values' storage in both engines (DecodeBenchConfig::values).
DecodeBenchResult measureCheckpointDecode(const std::string& prunedDir, const ProgressFn& progress = {},
                                          const TimingProfile& timing = {}, int threads = 0,
                                          kernels::ValueType values = kernels::ValueType::F32,
                                          bool int8Inputs = false);

}  // namespace duo::perf
