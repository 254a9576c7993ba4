// SPDX-License-Identifier: GPL-3.0-or-later
// Internal to core/bench: what the torch-side benchmarks (decode, forward, solver) share around
// their timed runs.
#pragma once
#include <omp.h>

#include <vector>

namespace duo::perf {

// Sets torch's intra-op threads and OpenMP's threads to `threads` when it is > 0 (0: leave both).
void applyThreads(int threads);

// The 1-minute load average (0 when unknown), recorded before and after a timed run.
double loadAverage1m();

// Median of non-empty samples (the mean of the middle two for an even count).
double median(std::vector<double> v);

// A run's result before anything is timed: applyThreads(c.threads), then the settings, the OpenMP
// threads the run gets and the load average before it.
template <class Result, class Config>
Result startRun(const Config& c) {
  applyThreads(c.threads);
  Result r;
  r.config = c;
  r.threads = omp_get_max_threads();
  r.loadBefore = loadAverage1m();
  return r;
}

}  // namespace duo::perf
