// SPDX-License-Identifier: GPL-3.0-or-later
// Internal to the CPU kernels: the per-ISA serial building blocks that cpu_dispatch.cpp spreads
// over OpenMP threads. Each ISA file (cpu_scalar.cpp, cpu_avx2.cpp, cpu_avx512.cpp) fills one
// table; the AVX files compile their functions with target attributes, so the default build stays
// portable and the choice is made at run time.
#pragma once
#include <cstdint>

#include "kernels/matvec.h"

namespace duo::kernels::cpu::detail {

// The input columns a product visits, in ascending order, with their inputs gathered.
struct ActiveColumns {
  const std::int32_t* index = nullptr;  // [count] column indices
  const float* x = nullptr;             // [count, batch] inputs of those columns, column after column
  std::int64_t count = 0;
};

// Int8-input products (DenseView::int8Inputs), one input vector at a time. The active columns come
// in quads (four columns multiplied together; a short quad is padded with its last column and a
// zero input), grouped by the input block they belong to.
struct Q8Block {
  std::int32_t quadBegin = 0, quadEnd = 0;  // quads [quadBegin, quadEnd) of this block
  float scale = 0.0f;                       // the block's input scale
};
struct Q8Columns {
  const std::int8_t* const* column = nullptr;  // [4 * quads] the slot's column (its first stored row; dense W)
  const std::int32_t* index = nullptr;         // [4 * quads] the slot's column index (column-packed W)
  const std::int8_t* q = nullptr;              // [4 * quads] its int8 input (0 in padding slots)
  const std::int8_t* qAbs = nullptr;           // [4 * quads] |q|
  const Q8Block* blocks = nullptr;             // [count]
  std::int64_t count = 0;
};

// Quad qd of `a` in a column-packed W with bitmap records, strip s (record base = w.record(s, 0)):
// where its four columns' bitmaps and values start.
struct QuadRecords {
  const std::uint8_t* bitmap[4];
  const std::int8_t* values[4];
};
inline QuadRecords quadRecords(const SparseColumnsView& w, const Q8Columns& a, std::int64_t base, std::int64_t qd) {
  QuadRecords r;
  for (int i = 0; i < 4; ++i) {
    const std::int64_t rec = base + a.index[4 * qd + i];
    r.bitmap[i] = w.bitmap + rec * w.bitmapBytes;
    r.values[i] = static_cast<const std::int8_t*>(w.values) + w.colStart[rec];
  }
  return r;
}
// The same for the quad after it, to fetch while quad qd streams: each column's values and their
// lines (`lines`), the bitmaps handed whole to prefetchLine (one call per 64 bytes). Quads past
// the last get no lines.
template <class PrefetchLine>
inline void nextQuadRecords(const SparseColumnsView& w, const Q8Columns& a, std::int64_t base, std::int64_t qd,
                            const char* (&values)[4], std::int64_t (&lines)[4], PrefetchLine prefetchLine) {
  const std::int64_t lastQuad = a.count > 0 ? a.blocks[a.count - 1].quadEnd : 0;
  for (int i = 0; i < 4; ++i) {
    values[i] = nullptr;
    lines[i] = 0;
  }
  if (qd + 1 >= lastQuad) return;
  const QuadRecords r = quadRecords(w, a, base, qd + 1);
  for (int i = 0; i < 4; ++i) {
    const std::int64_t rec = base + a.index[4 * (qd + 1) + i];
    values[i] = reinterpret_cast<const char*>(r.values[i]);
    lines[i] = (w.colStart[rec + 1] - w.colStart[rec] + 63) / 64;
    for (std::int64_t line = 0; line < w.bitmapBytes; line += 64)
      prefetchLine(reinterpret_cast<const char*>(r.bitmap[i]) + line);
  }
}

struct IsaKernels {
  // Row-major dense W: y[b * rows + r] for r in [r0, r1).
  void (*denseRows)(const DenseView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1);
  // Column-major dense W: adds the columns in `a` onto ys[b * ysStride + r] for r in [r0, r1).
  void (*colMajorAdd)(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride, int batch,
                      std::int64_t r0, std::int64_t r1);
  // Strip s of a packed W: adds the columns in `a` onto ys[b * ysStride + i] for the strip's rows i
  // (ys has room for the strip's rows rounded up to 16, and the caller zeroed it).
  void (*sparseStripAdd)(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                         std::int64_t ysStride, int batch);
  // N:M W: y[b * rows + r] for r in [r0, r1).
  void (*nmRows)(const NmView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1);
  // quantizeInputBlocks, bit for bit.
  void (*quantizeInputs)(const float* x, std::int64_t n, std::int8_t* q, float* scale);
  // Row-major int8 W, one input rounded by quantizeInputs (q, scale): y[r] = sum over blocks of
  // scale * (integer dot product), for r in [r0, r1), before the row scales.
  void (*denseRowsQ8)(const DenseView& w, const std::int8_t* q, const float* scale, float* y, std::int64_t r0,
                      std::int64_t r1);
  // Column-major int8 W: adds the blocks of `a` onto ys[r] for r in [r0, r1), before the row scales.
  void (*colMajorAddQ8)(const DenseView& w, const Q8Columns& a, float* ys, std::int64_t r0, std::int64_t r1);
  // Column-packed int8 W, strip s: adds the blocks of `a` (columns a.index) onto ys[i] for the
  // strip's rows i, before the row scales.
  void (*sparseStripAddQ8)(const SparseColumnsView& w, std::int32_t s, const Q8Columns& a, float* ys);
};

const IsaKernels& scalarKernels();
const IsaKernels& avx2Kernels();
const IsaKernels& avx512Kernels();
// The AVX-512 table with the int8-input kernels on VNNI (vpdpbusd) and VBMI2 (vpexpandb).
const IsaKernels& avx512VnniKernels();
bool cpuHasVnni();  // AVX-512 VNNI and VBMI2

}  // namespace duo::kernels::cpu::detail
