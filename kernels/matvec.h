// SPDX-License-Identifier: GPL-3.0-or-later
// The four mat-vec products of DuoScope, y = W x, each in a reference, an optimised CPU and a CUDA
// version (kernels/cuda/cuda_matvec.h) with one signature and one set of input checks:
//   denseGemv         every weight, every input                        (baseline; either layout)
//   actSparseGemv     dense column-major W, skips columns with x_j == 0 (TEAL-style)
//   weightSparseSpmv  packed sparse W, every column                    (pruned weights cost nothing)
//   dualSparseSpmspv  packed sparse W, skips columns with x_j == 0      (both sparsities)
// Shared contract: x is [batch, cols] f32 row-major, y is [batch, rows] f32 row-major, 1 <= batch
// <= kMaxBatch; every element of y is written (never accumulated into). With batch > 1 a column is
// skipped only when it is zero in every input. The CPU versions run on OpenMP's threads.
#pragma once
#include <string>
#include <vector>

#include "kernels/dense_matrix.h"
#include "kernels/nm_sparse.h"
#include "kernels/sparse_columns.h"

namespace duo::kernels {

// The checks every backend runs first: sizes, pointers, batch. Throws duo::Error naming `who`.
void checkMatVec(const char* who, std::int64_t rows, std::int64_t cols, const float* x, const float* y, int batch);

// checkMatVec, then the view's own checks (checkView); every product's first step.
template <class View>
void checkProduct(const char* who, const View& w, const float* x, const float* y, int batch) {
  checkMatVec(who, w.rows, w.cols, x, y, batch);
  checkView(w, who);
}

// actSparseGemv's extra condition: a zero input skips a contiguous column only in column-major W.
void checkColMajor(const DenseView& w, const char* who);

namespace ref {
// Plain loops, f64 accumulation: the yardstick of the tests. Single-threaded.
#include "kernels/matvec_products.inc"
}  // namespace ref

namespace cpu {
#include "kernels/matvec_products.inc"

// Instruction sets the CPU kernels are compiled for; the best one the CPU supports is chosen at
// run time (override with the environment variable DUO_KERNEL_ISA=scalar|avx2|avx512|avx512-vnni).
// Avx512Vnni is Avx512 with the int8-input products on VNNI and VBMI2 (the same results).
enum class Isa { Scalar, Avx2, Avx512, Avx512Vnni };
const char* isaName(Isa isa);                 // "scalar", "avx2", "avx512", "avx512-vnni"
Isa parseIsa(const std::string& name);        // throws duo::Error
std::vector<Isa> supportedIsas();             // those this CPU can run, Scalar first
Isa activeIsa();
// quantizeInputBlocks as the int8-input products do it with the active ISA (bit for bit the same
// for finite x; the tests check that).
void quantizeInputs(const float* x, std::int64_t n, std::int8_t* q, float* scale);
// Selects the ISA for all later calls in this process (tests and benchmarks compare them).
// Throws duo::Error when this CPU lacks it.
void setIsa(Isa isa);
// Whether the active ISA runs the column-packed int8-input products (SparseColumnsView::int8Inputs)
// at memory speed: avx512-vnni expands 64 bitmap rows per step (vpexpandb) and multiplies with
// vpdpbusd. Elsewhere they are bound by the bitmap expansion (1.5-1.8x slower than act-sparse on
// AVX2 even at W70), which a bytes model cannot see.
bool packedInt8InputsAtSpeed();
}  // namespace cpu

}  // namespace duo::kernels
