// SPDX-License-Identifier: GPL-3.0-or-later
// The kernel benchmark behind `duoscope-cli bench kernels`: median times of the vendor BLAS GEMV
// (OpenBLAS sgemv on CPU, cuBLAS on CUDA) and of our dense, activation-sparse, weight-sparse and
// dual-sparse kernels on one matrix shape, with achieved bandwidth, the measured memory bandwidth
// and the bytes model's prediction beside each. Inputs rotate over enough copies of every matrix
// that each call streams from memory, not from the last-level cache (core/bench/machine_probes.h
// measures the bandwidths and the cache). Torch-free header.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "core/common/progress.h"
#include "core/engine/bytes_model.h"

namespace duo::perf {

struct KernelBenchConfig {
  std::int64_t rows = 4096, cols = 4096;
  double wSparsity = 0.5;  // fraction of weights pruned (uniformly random)
  double aSparsity = 0.5;  // fraction of inputs zero (uniformly random, fresh per input vector)
  kernels::ValueType type = kernels::ValueType::F32;  // our kernels' weight storage (BLAS on CPU is f32)
  bool cuda = false;     // time the CUDA kernels and cuBLAS instead of the CPU ones
  bool int8Inputs = false;  // int8 type: the dense and act-sparse kernels round x to int8 (CPU only)
  int repeats = 30;      // timed calls per kernel (the median is reported)
  int warmup = 3;        // untimed calls first
  std::uint64_t seed = 1;
  double rotateMiB = 0;  // each format's copies together exceed this; 0: 4x the last-level cache (CPU), 512 (CUDA)
};

struct KernelTiming {
  bool ran = false;
  double medianUs = 0;
  double minUs = 0;         // fastest call: the kernel's speed when nothing else got in the way
  double gbs = 0;           // bytes model's bytes / median time
  double predictedUs = 0;   // bytes / model bandwidth
  double speedupVsBlas = 0; // BLAS median / this median
  double bytes = 0;
  double error = 0;         // normalised error of the output vs our dense kernel's
};

struct KernelBenchResult {
  KernelBenchConfig config;
  std::string device;     // "cpu: avx512, 2 threads" or the GPU's name
  std::string blas;       // "OpenBLAS 0.3.21 ...", "cuBLAS"
  std::string index;      // packed format chosen: "bitmap" or "u16"
  int stripRows = 0;
  int threads = 1;
  int copies = 1;         // rotation depth of the largest format
  double copyBandwidthGbs = 0;   // (read + written bytes) / time of a large copy
  double readBandwidthGbs = 0;   // bytes / time of a large streaming read (CPU); = copy on CUDA
  double modelBandwidthGbs = 0;  // what predicted_us divides by (read on CPU, copy on CUDA)
  std::array<KernelTiming, 5> kernels{};  // indexed like kAllKernels
  const KernelTiming& at(Kernel k) const { return kernels[static_cast<std::size_t>(k)]; }
};

KernelBenchResult runKernelBench(const KernelBenchConfig& config, const ProgressFn& progress = {});

}  // namespace duo::perf
