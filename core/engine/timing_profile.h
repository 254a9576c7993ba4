// SPDX-License-Identifier: GPL-3.0-or-later
// Timing profiles: our kernels measured at one model's shapes on this machine, fitted per shape
// and kernel to seconds = fixed + bytes / rate (perf::CostLine, perf::TimingProfile in
// bytes_model.h), kept as `duoscope.timing/1` JSON. With a profile (`--timing FILE` on prune, eval,
// allocate, sensitivity and bench decode) the decode prediction, the decode engine's kernel choice
// and the allocator's costs use measured lines instead of bytes / bandwidth (docs/allocation.md,
// "Timing profiles"). core/bench/calibrate_timing.h measures one (`duoscope-cli bench calibrate`).
// Torch-free.
#pragma once
#include <string>
#include <vector>

#include "core/engine/bytes_model.h"

namespace duo::perf {

struct CalibrationPoint {
  std::int64_t rows = 0, cols = 0;
  double pW = 0, pA = 0;
  Kernel kernel = Kernel::Dense;
  double bytes = 0;      // bytes model, at the matrices' measured sparsity
  double medianUs = 0;   // measured in the decode step: mean per call over the steps, median over the layers
  double fittedUs = 0;   // the line at these bytes
};

// duoscope.timing/1. load() throws duo::Error naming the file and the fault (schema, missing
// fields, non-positive numbers); save() writes atomically.
std::string timingProfileJson(const TimingProfile& p, const std::vector<CalibrationPoint>& points = {});
TimingProfile loadTimingProfile(const std::string& path);
// The same on JSON text already read; `path` names it in errors and becomes the profile's source.
TimingProfile parseTimingProfile(const std::string& text, const std::string& path);
void saveTimingProfile(const std::string& path, const TimingProfile& p, const std::vector<CalibrationPoint>& points = {});

}  // namespace duo::perf
