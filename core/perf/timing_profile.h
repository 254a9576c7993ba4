// Timing profiles: our kernels measured at one model's shapes on this machine (`duoscope-cli bench
// calibrate`), fitted per shape and kernel to seconds = fixed + bytes / rate (perf::CostLine), and
// saved as `duoscope.timing/1` JSON. With a profile (`--timing FILE` on prune, eval, allocate,
// sensitivity and bench decode) the decode prediction, the decode engine's kernel choice and the
// allocator's costs use measured lines instead of bytes / bandwidth (docs/allocation.md, "Timing
// profiles"). Torch-free header.
#pragma once
#include <string>

#include "core/common/progress.h"
#include "core/perf/bytes_model.h"

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
};

struct CalibrationPoint {
  std::int64_t rows = 0, cols = 0;
  double pW = 0, pA = 0;
  Kernel kernel = Kernel::Dense;
  double bytes = 0;      // bytes model, at the matrices' measured sparsity
  double medianUs = 0;   // measured in the decode step: mean per call over the steps, median over the layers
  double fittedUs = 0;   // the line at these bytes
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

// duoscope.timing/1. load() throws duo::Error naming the file and the fault (schema, missing
// fields, non-positive numbers); save() writes atomically.
std::string timingProfileJson(const TimingProfile& p, const std::vector<CalibrationPoint>& points = {});
TimingProfile loadTimingProfile(const std::string& path);
// The same on JSON text already read; `path` names it in errors and becomes the profile's source.
TimingProfile parseTimingProfile(const std::string& text, const std::string& path);
void saveTimingProfile(const std::string& path, const TimingProfile& p, const std::vector<CalibrationPoint>& points = {});

}  // namespace duo::perf
