// SPDX-License-Identifier: GPL-3.0-or-later
// What this machine offers: host memory bandwidths (measured once per process), the last-level
// cache, which BLAS is loaded. The kernel benchmark, the decode benchmark and timing calibration
// put their numbers beside these. Torch-free, standard library and OpenMP only.
#pragma once
#include <cstddef>
#include <string>

namespace duo::perf {

// Host memory bandwidths over buffers of `bytes` (all OpenMP threads; measured once per process
// and cached for the default size).
double cpuCopyBandwidthGbs(std::size_t bytes = 0);
double cpuReadBandwidthGbs(std::size_t bytes = 0);
// The last-level cache one core reaches, bytes (sysfs's per-instance size; 32 MiB if unknown).
std::size_t lastLevelCacheBytes();
// Which BLAS answers cblas_sgemv in this process ("OpenBLAS ..." when it says so).
std::string blasName();

}  // namespace duo::perf
