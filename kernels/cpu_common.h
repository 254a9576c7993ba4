// SPDX-License-Identifier: GPL-3.0-or-later
// Internal to the x86 CPU kernels: what cpu_avx2.cpp and cpu_avx512.cpp share, as templates over
// an ISA struct that supplies the vector kernels. Included by those two files only, each after
// defining DUO_ISA_TARGET as its target attribute, so every function here is compiled (and inlined)
// with that file's instruction set. Everything sits in an unnamed namespace: each file gets its own
// copies, and the linker can never hand AVX-512 code to the AVX2 table.
//
// The ISA struct provides, as static member templates carrying the target attribute:
//   denseRows<T, B, R>(w, x, y, r0, r1)        row-major dense, R rows per step
//   colMajorAccumulate<T, B, Q>(w, a, k0, k1, ys, ysStride, r0, r1)   columns [k0, k1), Q per step
//   decode8<T>(m, values, at) -> __m256      the 8 rows of bitmap byte m; advances `at` past them
//   sparseStrip<T, B>(w, s, a, ys, ysStride)   usually sparseStripT<Isa, T, B> below
//   nmRows<T, B>(w, x, y, r0, r1)
#pragma once
#ifndef DUO_ISA_TARGET
#error "define DUO_ISA_TARGET (the file's target attribute) before including kernels/cpu_common.h"
#endif

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cpu_isa.h"

namespace duo::kernels::cpu::detail {
namespace {

// Storage type of T's values.
template <ValueType T>
using Stored = std::conditional_t<T == ValueType::F32, float,
                                  std::conditional_t<T == ValueType::I8, std::int8_t, std::uint16_t>>;

// Rows (row-major dense) or columns (column-major, column-packed) a kernel interleaves per step at
// batch B: each shares one load of y or x, and fewer as B grows so the accumulators stay in registers.
template <int B>
constexpr int kInterleave = B <= 2 ? 4 : (B <= 4 ? 2 : 1);

// Decoding a bitmap byte m: kPermute.idx[m][i] is, for lane i set in m, the rank of that bit among
// m's set bits (0 if unset), so a vpermps with it moves the next popcount(m) packed values onto m's
// lanes; the ISA then zeroes the other lanes.
struct PermuteTable {
  alignas(32) std::int32_t idx[256][8];
  constexpr PermuteTable() : idx() {
    for (int m = 0; m < 256; ++m) {
      int rank = 0;
      for (int i = 0; i < 8; ++i) idx[m][i] = (m >> i) & 1 ? rank++ : 0;
    }
  }
};
constexpr PermuteTable kPermute{};

// 8 values from index i of a values array of type T, as f32 (I8: the integers q; the row scale
// comes after the sum).
template <ValueType T>
DUO_ISA_TARGET inline __m256 load8(const void* base, std::size_t i) {
  if constexpr (T == ValueType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  } else if constexpr (T == ValueType::I8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const std::int8_t*>(base) + i));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(base) + i));
    if constexpr (T == ValueType::F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// ---- dense column-major: Q columns at a time, then the rest one by one -------------------------
template <class Isa, ValueType T, int B, int Q>
DUO_ISA_TARGET void colMajorAddT(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride,
                                 std::int64_t r0, std::int64_t r1) {
  const std::int64_t split = a.count / Q * Q;
  Isa::template colMajorAccumulate<T, B, Q>(w, a, 0, split, ys, ysStride, r0, r1);
  if (Q > 1) Isa::template colMajorAccumulate<T, B, 1>(w, a, split, a.count, ys, ysStride, r0, r1);
}

// ---- column-packed strip, bitmap records, 8 rows per step ----------------------------------------
// Q columns are interleaved so each 8-row slice of y is loaded and stored once per Q columns. Values
// are read 8 at a time at the record's cursor (the format pads the value array for the overrun).

// One 8-row step g of Q records: decode, multiply by each input, add into ys.
template <class Isa, ValueType T, int B, int Q>
DUO_ISA_TARGET inline void bitmapStep(const std::uint8_t* const* bm, std::size_t* at, const __m256 (*xb)[B],
                                      const void* values, float* ys, std::int64_t ysStride, std::int64_t g) {
  __m256 wv[Q];
  for (int q = 0; q < Q; ++q) wv[q] = Isa::template decode8<T>(bm[q][g], values, at[q]);
  for (int b = 0; b < B; ++b) {
    float* yp = ys + b * ysStride + g * 8;
    __m256 yv = _mm256_loadu_ps(yp);
    for (int q = 0; q < Q; ++q) yv = _mm256_fmadd_ps(wv[q], xb[q][b], yv);
    _mm256_storeu_ps(yp, yv);
  }
}

// Adds columns [k0, k1) of `a` (strip s) onto ys.
template <class Isa, ValueType T, int B, int Q>
DUO_ISA_TARGET void bitmapAccumulate(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a,
                                     std::int64_t k0, std::int64_t k1, float* ys, std::int64_t ysStride) {
  // Locals, so that the stores into ys do not make the compiler reload the view every step.
  const void* const values = w.values;
  const char* const bytes = static_cast<const char*>(values);
  const std::uint8_t* const bitmap = w.bitmap;
  const std::uint32_t* const colStart = w.colStart;
  const std::int64_t bitmapBytes = w.bitmapBytes;
  const std::int64_t base = static_cast<std::int64_t>(s) * w.cols;
  const std::int64_t steps = (w.stripEnd(s) - w.stripBegin(s) + 7) / 8;  // 8 rows per step
  for (std::int64_t k = k0; k + Q <= k1; k += Q) {
    const std::uint8_t* bm[Q];
    std::size_t at[Q];
    __m256 xb[Q][B];
    for (int q = 0; q < Q; ++q) {
      const std::int64_t rec = base + a.index[k + q];
      bm[q] = bitmap + rec * bitmapBytes;
      at[q] = colStart[rec];
      for (int b = 0; b < B; ++b) xb[q][b] = _mm256_set1_ps(a.x[(k + q) * B + b]);
    }
    // The next columns' records start elsewhere (the dual product skips columns, and hardware
    // prefetchers lose the stream at every jump): fetch them into L2 while these stream, their
    // bitmaps now and their values one line per 4 steps (a 50%-dense f32 record has ~1 line per 4).
    const char* next[Q] = {};
    std::int64_t nextLines[Q] = {};
    if (k + 2 * Q <= k1)
      for (int q = 0; q < Q; ++q) {
        const std::int64_t rec = base + a.index[k + Q + q];
        next[q] = bytes + colStart[rec] * sizeof(Stored<T>);
        nextLines[q] = static_cast<std::int64_t>((colStart[rec + 1] - colStart[rec]) * sizeof(Stored<T>) + 63) / 64;
        const char* nb = reinterpret_cast<const char*>(bitmap + rec * bitmapBytes);
        for (std::int64_t line = 0; line < bitmapBytes; line += 64) _mm_prefetch(nb + line, _MM_HINT_T1);
      }
    std::int64_t g = 0;
    for (; g + 4 <= steps; g += 4) {
      for (int q = 0; q < Q; ++q)
        if ((g >> 2) < nextLines[q]) _mm_prefetch(next[q] + 16 * g, _MM_HINT_T1);
      bitmapStep<Isa, T, B, Q>(bm, at, xb, values, ys, ysStride, g);
      bitmapStep<Isa, T, B, Q>(bm, at, xb, values, ys, ysStride, g + 1);
      bitmapStep<Isa, T, B, Q>(bm, at, xb, values, ys, ysStride, g + 2);
      bitmapStep<Isa, T, B, Q>(bm, at, xb, values, ys, ysStride, g + 3);
    }
    for (; g < steps; ++g) bitmapStep<Isa, T, B, Q>(bm, at, xb, values, ys, ysStride, g);
  }
}

// Strip s of a column-packed W: bitmap records through the ISA's decode8; u16 row indices as a
// scalar scatter-add (used only past ~94% sparsity, where few values remain).
template <class Isa, ValueType T, int B>
DUO_ISA_TARGET void sparseStripT(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                                 std::int64_t ysStride) {
  if (w.index == IndexKind::Bitmap) {
    constexpr int Q = kInterleave<B>;
    const std::int64_t split = a.count / Q * Q;
    bitmapAccumulate<Isa, T, B, Q>(w, s, a, 0, split, ys, ysStride);
    if (Q > 1) bitmapAccumulate<Isa, T, B, 1>(w, s, a, split, a.count, ys, ysStride);
    return;
  }
  for (std::int64_t k = 0; k < a.count; ++k) {
    const std::int64_t rec = w.record(s, a.index[k]);
    const float* xk = a.x + k * B;
    for (std::uint32_t i = w.colStart[rec]; i < w.colStart[rec + 1]; ++i) {
      const float wv = loadValue(w.values, T, i);
      const std::uint16_t r = w.rowIndex[i];
      for (int b = 0; b < B; ++b) ys[b * ysStride + r] += wv * xk[b];
    }
  }
}

// ---- batch / type dispatch: the IsaKernels table of an ISA struct --------------------------------
#define DUO_BATCH_SWITCH(CALL) \
  switch (batch) {             \
    case 1: CALL(1); break;    \
    case 2: CALL(2); break;    \
    case 3: CALL(3); break;    \
    case 4: CALL(4); break;    \
    case 5: CALL(5); break;    \
    case 6: CALL(6); break;    \
    case 7: CALL(7); break;    \
    default: CALL(8); break;   \
  }

#define DUO_BY_TYPE(FN, TYPE, ...)                                                   \
  switch (TYPE) {                                                                    \
    case ValueType::F32: return FN<ValueType::F32>(__VA_ARGS__);                     \
    case ValueType::F16: return FN<ValueType::F16>(__VA_ARGS__);                     \
    case ValueType::BF16: return FN<ValueType::BF16>(__VA_ARGS__);                   \
    case ValueType::I8: return FN<ValueType::I8>(__VA_ARGS__);                       \
  }

template <class Isa>
struct IsaTable {
  template <ValueType T>
  DUO_ISA_TARGET static void denseRowsTyped(const DenseView& w, const float* x, float* y, int batch, std::int64_t r0,
                                            std::int64_t r1) {
#define DUO_CALL(B) Isa::template denseRows<T, B, kInterleave<B>>(w, x, y, r0, r1)
    DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
  }
  template <ValueType T>
  DUO_ISA_TARGET static void colMajorAddTyped(const DenseView& w, const ActiveColumns& a, float* ys,
                                              std::int64_t ysStride, int batch, std::int64_t r0, std::int64_t r1) {
#define DUO_CALL(B) colMajorAddT<Isa, T, B, kInterleave<B>>(w, a, ys, ysStride, r0, r1)
    DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
  }
  template <ValueType T>
  DUO_ISA_TARGET static void sparseStripTyped(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a,
                                              float* ys, std::int64_t ysStride, int batch) {
#define DUO_CALL(B) Isa::template sparseStrip<T, B>(w, s, a, ys, ysStride)
    DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
  }
  template <ValueType T>
  DUO_ISA_TARGET static void nmRowsTyped(const NmView& w, const float* x, float* y, int batch, std::int64_t r0,
                                         std::int64_t r1) {
#define DUO_CALL(B) Isa::template nmRows<T, B>(w, x, y, r0, r1)
    DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
  }

  DUO_ISA_TARGET static void denseRows(const DenseView& w, const float* x, float* y, int batch, std::int64_t r0,
                                       std::int64_t r1) {
    DUO_BY_TYPE(denseRowsTyped, w.type, w, x, y, batch, r0, r1)
  }
  DUO_ISA_TARGET static void colMajorAdd(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride,
                                         int batch, std::int64_t r0, std::int64_t r1) {
    DUO_BY_TYPE(colMajorAddTyped, w.type, w, a, ys, ysStride, batch, r0, r1)
  }
  DUO_ISA_TARGET static void sparseStripAdd(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a,
                                            float* ys, std::int64_t ysStride, int batch) {
    DUO_BY_TYPE(sparseStripTyped, w.type, w, s, a, ys, ysStride, batch)
  }
  DUO_ISA_TARGET static void nmRows(const NmView& w, const float* x, float* y, int batch, std::int64_t r0,
                                    std::int64_t r1) {
    DUO_BY_TYPE(nmRowsTyped, w.type, w, x, y, batch, r0, r1)
  }

  // Compiled without the target attribute: only hands out addresses.
  static const IsaKernels& table() {
    static const IsaKernels k{denseRows, colMajorAdd, sparseStripAdd, nmRows};
    return k;
  }
};

#undef DUO_BY_TYPE
#undef DUO_BATCH_SWITCH

}  // namespace
}  // namespace duo::kernels::cpu::detail
