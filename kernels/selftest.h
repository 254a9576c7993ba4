// SPDX-License-Identifier: GPL-3.0-or-later
// The table of kernel checks shared by the Qt tests (tests/unit/test_kernels.cpp,
// tests/cuda/test_cuda_kernels.cpp) and `duoscope-cli selftest`: random masked matrices and
// inputs over shapes (odd sizes, one row, one column), weight sparsity {0, 0.5, 0.9, 1},
// activation sparsity {0, 0.5, 1}, storage types, batches, strip heights and N:M patterns; every
// kernel in every format compared with the reference by normalised error, outputs poisoned with
// NaN before each run so an unwritten element fails.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/matvec.h"

namespace duo::kernels::selftest {

struct Case {
  std::string name;  // e.g. "100x257 w0.5 a0.5 f32 b1"
  std::int64_t rows = 1, cols = 1;
  double wSparsity = 0.0;  // fraction of weights pruned (unstructured), ignored for N:M
  double aSparsity = 0.0;  // fraction of inputs zeroed, per batch row
  ValueType type = ValueType::F32;
  int batch = 1;
  int stripRows = 0;  // 0: automatic
  int nmN = 0, nmM = 0;  // > 0: the weights follow an N:M pattern
  std::uint64_t seed = 1;
};

// The standard table (a few hundred cases, each well under a second).
std::vector<Case> standardCases();

// Random problem of a case: w [rows, cols] row-major f32 with the pruned entries zero and values
// already rounded to the case's storage type; x [batch, cols] f32.
struct Problem {
  std::vector<float> w;
  std::vector<float> x;
};
Problem makeProblem(const Case& c);

struct Result {
  std::string kernel;   // "dense(row-major)", "act_sparse(col-major)", "dual_sparse(bitmap)", ...
  std::string backend;  // "avx512", "avx2", "scalar", "cuda"
  double error = 0.0;   // normalised error vs the reference (NaN when an output was left unwritten)
  double tolerance = 0.0;
  bool passed = false;
  std::string message;  // why it failed (exception text), empty when it passed
};

// Error bound for a case: f32 accumulation in a different order than the f64 reference.
double tolerance(const Case& c);

// Every kernel and format of the case on the CPU with the given instruction set.
std::vector<Result> runCpu(const Case& c, cpu::Isa isa);
// The same on the CUDA device (throws duo::Error when no device is usable; see cuda::status()).
std::vector<Result> runCuda(const Case& c);

}  // namespace duo::kernels::selftest
