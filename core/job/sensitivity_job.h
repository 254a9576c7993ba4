// SPDX-License-Identifier: GPL-3.0-or-later
// The sensitivity job `duoscope-cli sensitivity` and the window run: load the model, sample the
// prune job's calibration windows, estimate every projection's error over the (p_w, p_a) grid
// (core/prune/sensitivity_compute.h) and add the bytes model's decode time of every point.
// Torch-free header.
#pragma once
#include <cstdint>
#include <string>

#include "core/common/progress.h"
#include "core/dist/dist_settings.h"
#include "core/engine/bytes_model.h"
#include "core/prune/sensitivity.h"

namespace duo {

struct SensitivityRequest {
  std::string model = "tiny";           // path or alias
  SensitivityOptions options;
  std::string calibSource = "auto";    // auto: the model's default (core/data/default_corpora.h)
  int nsamples = 0;                     // 0 = the prune job's default for the model (defaultCalibration)
  int seqlen = 0;
  uint64_t seed = 0;
  // Windows for the loss weights (same source, length and seed): 0 = the table's own nsamples
  // windows. Loss weights are gradient statistics and noisier than the error curves; more windows
  // cost one forward + backward each (docs/allocation.md, "Loss weights").
  int lossWindows = 0;
  std::string device;                   // "" = auto
  int contextTokens = 256;              // decode step of the bytes model
  double bandwidthGbs = 20.0;
  const perf::TimingProfile* timing = nullptr;  // measured kernel lines for the decode times (not owned)
  DistSettings dist;                    // data-parallel: windows shared out over the ranks (runSensitivity)
};

// Throws duo::Cancelled when progress returns false (nothing is written anywhere). Also fills every
// projection's lossWeight (computeLossWeights on the same windows).
SensitivityTable runSensitivity(const SensitivityRequest& req, const ProgressFn& progress = {});

// Fills `lossWeight` of every projection of `t` (a table of req.model): one forward and backward
// pass of the dense model per calibration window (req's source, nsamples, seqlen and seed; 0 = the
// prune defaults), reading the gradient of the window's summed token loss at every projection's
// output. Progress stage "loss weights", one step per window; cancellable.
void computeLossWeights(SensitivityTable& t, const SensitivityRequest& req, const ProgressFn& progress = {});

// Fills `seconds`/`denseSeconds` of every projection and the table's decode step from the bytes
// model (core/engine/bytes_model.h: each point on its cheapest kernel, f32 weights), or from a timing
// profile's measured lines when `timing` is given (each point on its fastest kernel, the input
// site's topk charged to its first projection), so that
//   predicted speedup = denseStepSeconds / (fixedSeconds + sum of the chosen points' seconds)
// equals predictDecodeFor (core/job/decode_estimate.h, same profile) for any config on the grid.
void fillDecodeTimes(SensitivityTable& t, int contextTokens = 256, double bandwidthGbs = 20.0,
                     const perf::TimingProfile* timing = nullptr);

}  // namespace duo
