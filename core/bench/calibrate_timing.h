// SPDX-License-Identifier: GPL-3.0-or-later
// Measuring a timing profile (`duoscope-cli bench calibrate`): our kernels timed where they run,
// inside the decode engine's step of the model itself, and fitted per shape and kernel to
// seconds = fixed + bytes / rate. The profile and its file format are the engine's
// (core/engine/timing_profile.h). Torch-free header.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/common/progress.h"
#include "core/engine/timing_profile.h"

namespace duo::perf {

struct CalibrateConfig {
  std::string model = "smollm2";  // path or alias: its own weights are masked and decoded
  int threads = 0;    // 0: OpenMP's default (set it to what decoding will use)
  int steps = 24;     // timed decode steps per (point, kernel)
  int context = 32;   // prompt tokens in the cache before the timed steps
  // (p_w, p_a) points (magnitude mask, topk), each decoded with every sparse kernel forced on every
  // projection; each kernel's line per shape is fitted over them and the dense run.
  std::vector<SparsityPoint> points{{0.3, 0.7}, {0.5, 0.5}, {0.7, 0.3}, {0.8, 0.8}, {0.2, 0.2}};
  // Storage of the weight values while timing (the profile is valid for decoding with these).
  kernels::ValueType values = kernels::ValueType::F32;
  // With int8 values: the products round their inputs to int8 (PackedDecoderOptions::int8Inputs);
  // only the dense and act-sparse kernels have that path, so only they are timed.
  bool int8Inputs = false;
};

struct CalibrationResult {
  TimingProfile profile;
  std::vector<CalibrationPoint> points;
  double seconds = 0;
};

// Times the kernels where they run: inside our engine's decode step of the model itself
// (PackedDecoder with a StepProfile), dense, then at each point with each sparse kernel forced on
// every projection. Per shape and kernel, the per-call times (median over the layers of that shape)
// are fitted to a line; the lm_head, topk per input width and the rest of the step (attention,
// norms, RoPE, residuals: `other_us`, at the measured context) are kept as measured. Progress per
// run; cancellable.
CalibrationResult calibrateTiming(const CalibrateConfig& config, const ProgressFn& progress = {});

// Fits seconds = fixed + bytes / rate to (bytes, microseconds) pairs: least squares, with the fixed
// part clamped to >= 0 and the rate to > 0; when the bytes barely differ (dense kernels), a line
// through the origin. Exposed for tests.
CostLine fitCostLine(const std::vector<std::pair<double, double>>& bytesUs);

}  // namespace duo::perf
