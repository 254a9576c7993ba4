// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/bench/machine_probes.h"

#include <dlfcn.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <vector>

namespace duo::perf {

namespace {

using Clock = std::chrono::steady_clock;

// Median wall time in microseconds of fn(i) over `repeats` calls after `warmup` calls.
double medianMicros(const std::function<void(int)>& fn, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) fn(i);
  std::vector<double> us(static_cast<std::size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    fn(warmup + i);
    us[static_cast<std::size_t>(i)] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

std::size_t defaultBandwidthBytes() { return std::max<std::size_t>(256u << 20, 8 * lastLevelCacheBytes()); }

// probe(bytes) in GB/s; bytes 0: probe(default size), measured once per process (`cached`).
template <class Probe>
double bandwidthGbs(std::size_t bytes, double& cached, Probe probe) {
  if (bytes != 0) return probe(bytes);
  if (cached <= 0) cached = probe(defaultBandwidthBytes());
  return cached;
}

}  // namespace

std::string blasName() {
  using GetConfig = char* (*)();
  if (auto f = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) return std::string(f());
  return "BLAS (implementation unknown)";
}

double cpuCopyBandwidthGbs(std::size_t bytes) {
  static double cached = 0;
  return bandwidthGbs(bytes, cached, [](std::size_t size) {
    const std::size_t n = size / sizeof(float);
    std::vector<float> a(n, 1.0f), b(n, 0.0f);
    const double us = medianMicros(
        [&](int) {
#pragma omp parallel
          {
            const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
            const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
            const std::size_t lo = n * t / nt, hi = n * (t + 1) / nt;
            std::memcpy(b.data() + lo, a.data() + lo, (hi - lo) * sizeof(float));
          }
        },
        1, 7);
    return 2.0 * static_cast<double>(n * sizeof(float)) / (us * 1e-6) / 1e9;
  });
}

double cpuReadBandwidthGbs(std::size_t bytes) {
  static double cached = 0;
  return bandwidthGbs(bytes, cached, [](std::size_t size) {
    const std::size_t n = size / sizeof(float);
    std::vector<float> a(n, 1.0f);
    volatile float sink = 0;
    const double us = medianMicros(
        [&](int) {
          float total = 0;
          // `simd` lets the compiler keep vector partial sums (no fast-math needed), so the loop
          // runs at the speed memory delivers.
          const float* q = a.data();
#pragma omp parallel for simd reduction(+ : total) schedule(static)
          for (std::size_t i = 0; i < n; ++i) total += q[i];
          sink = sink + total;
        },
        1, 7);
    return static_cast<double>(n * sizeof(float)) / (us * 1e-6) / 1e9;
  });
}

// The last-level cache this CPU reaches: sysfs's per-instance size (sysconf may report the sum
// over all of a host's L3 slices, e.g. 320 MiB where one core sees 32 MiB).
std::size_t lastLevelCacheBytes() {
  for (const char* path : {"/sys/devices/system/cpu/cpu0/cache/index3/size", "/sys/devices/system/cpu/cpu0/cache/index2/size"}) {
    std::ifstream in(path);
    std::size_t value = 0;
    char unit = 0;
    if (in >> value) {
      in >> unit;
      if (unit == 'K') value <<= 10;
      if (unit == 'M') value <<= 20;
      if (value > 0) return value;
    }
  }
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? std::min<std::size_t>(static_cast<std::size_t>(l3), 64u << 20) : (32u << 20);
}

}  // namespace duo::perf
