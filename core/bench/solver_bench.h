// SPDX-License-Identifier: GPL-3.0-or-later
// One calibration site timed phase by phase against this machine's own GEMM rate
// (`duoscope-cli bench solver`): the statistics of `tokens` random inputs of width k, the OBS
// factorisation (Cholesky, inverse, DuoGPT's residual terms) and the sweep of one [n, k] weight,
// each with its FLOP count, achieved GFLOP/s and that as a fraction of a plain matmul's rate
// measured in the same run. Sizes default to LLaMA-2-7B's down_proj at 16 x 512 tokens.
// Torch-free header.
#pragma once
#include <string>
#include <vector>

namespace duo::perf {

struct SolverBenchConfig {
  int64_t k = 11008;       // input width (down_proj of LLaMA-2-7B)
  int64_t n = 4096;        // output rows
  int64_t tokens = 8192;   // calibration tokens (16 x 512)
  std::string method = "duogpt";  // duogpt | sparsegpt
  int blockSize = 128;
  int threads = 0;         // 0: OpenMP's default
  int repeat = 3;          // solves of the same statistics; the fastest one's phases are reported
  uint64_t seed = 0;
};

struct SolverPhase {
  std::string name;        // stats | cholesky | inverse | residual | sweep | update | total
  double seconds = 0;
  double flops = 0;        // the phase's nominal floating-point operations
  double gflops() const { return seconds > 0 ? flops / seconds * 1e-9 : 0; }
};

struct SolverBenchResult {
  SolverBenchConfig config;
  int threads = 1;
  double peakGflops = 0;   // plain f32 matmul [k, tokens] x [tokens, k], after a warm-up, best of 5 (2 if slow)
  std::vector<SolverPhase> phases;  // the solve's phases from its fastest repeat
  std::vector<double> solveRuns;    // every repeat's solve seconds, in run order (the first pays the warm-up)
  double loadBefore = 0, loadAfter = 0;  // 1-minute load average around the run
};

SolverBenchResult runSolverBench(const SolverBenchConfig& config);

}  // namespace duo::perf
