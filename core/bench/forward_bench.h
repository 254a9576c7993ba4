// SPDX-License-Identifier: GPL-3.0-or-later
// CPU float32 throughput of our LibTorch forward pass, measured the way scripts/bench_transformers.py
// measures HF transformers so the two can be compared side by side (`duoscope-cli bench forward`):
//   prefill: one full forward of [batch, seqlen] tokens without a KV cache -> tokens/s
//   decode:  after an untimed cached prefill of the same [batch, seqlen], `decodeTokens` greedy
//            single-token steps of every sequence through the KV cache -> tokens/s
// Token ids come from the kjv:eval corpus when it is cached (else a fixed pseudo-random draw).
// Torch-free header.
#pragma once
#include <string>
#include <vector>

#include "core/common/progress.h"

namespace duo::perf {

struct ForwardBenchConfig {
  std::string model = "smollm2";
  int seqlen = 512;
  int batch = 4;
  int decodeTokens = 64;
  int repeats = 3;
  int threads = 0;  // 0: OpenMP's default
  // Decode through our dense kernels (cpu::denseGemv via core/engine/packed_decode) instead of
  // torch::linear: what the engine runs for a dense model.
  bool ourKernels = false;
};

struct ForwardBenchResult {
  ForwardBenchConfig config;
  std::string model;            // resolved path
  std::string inputIds;         // "corpus" or "random"
  int threads = 1;
  std::vector<double> prefillSeconds, decodeSeconds;  // per repeat (decode: all steps)
  double prefillTokensPerSecond = 0, decodeTokensPerSecond = 0;          // from the median repeat
  double prefillBestTokensPerSecond = 0, decodeBestTokensPerSecond = 0;  // from the fastest repeat
  double decodeMsPerStep = 0;  // median
  double loadBefore = 0, loadAfter = 0;  // 1-minute load average around the run
};

ForwardBenchResult runForwardBench(const ForwardBenchConfig& config, const ProgressFn& progress = {});

}  // namespace duo::perf
