#include "core/job/prune_job.h"

#include "core/common/error.h"

namespace duo {

// Temporary until the calibration pipeline lands (same session): callers get a clear error.
PruneResult runPrune(const PruneRequest&, const ProgressFn&, const std::function<void(const ProjRecord&)>&) {
  fail("runPrune: the calibration pipeline is not built yet");
}

void defaultCalibration(int64_t params, bool cuda, int* nsamples, int* seqlen) {
  // Small models calibrate on more, shorter windows; the paper's 128 x 2048 only on a GPU.
  if (cuda) {
    *nsamples = 128;
    *seqlen = 2048;
  } else if (params < 20'000'000) {
    *nsamples = 64;
    *seqlen = 256;
  } else {
    *nsamples = 32;
    *seqlen = 256;
  }
}

nlohmann::json PruneResult::toJson() const { return {}; }

}  // namespace duo
