// SPDX-License-Identifier: GPL-3.0-or-later
// AVX2 + FMA building blocks (8 f32 lanes), for x86-64 CPUs without AVX-512. AVX2 has no expand
// instruction, so a bitmap byte selects one of 256 precomputed vpermps index vectors that move the
// next popcount(mask) packed values onto the mask's lanes; the other lanes are then zeroed.
// Row/column tails shorter than 8 run as scalar code. Every function carries the target attribute;
// what this file shares with cpu_avx512.cpp (the column-packed strip, the dispatch) is in
// cpu_common.h.
#include <immintrin.h>

#include "kernels/cpu_isa.h"

#if defined(__x86_64__)
#define DUO_ISA_TARGET __attribute__((target("avx2,fma,f16c,popcnt,bmi,bmi2")))
#include "kernels/cpu_common.h"

namespace duo::kernels::cpu::detail {
namespace {

// Lanes of m get the next popcount(m) values of v in order; the others are zero.
DUO_ISA_TARGET inline __m256 expand8(unsigned m, __m256 v) {
  const __m256i idx = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPermute.idx[m]));
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i keep = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(m)), bits), bits);
  return _mm256_and_ps(_mm256_permutevar8x32_ps(v, idx), _mm256_castsi256_ps(keep));
}

// The AVX2 kernels, as cpu_common.h's IsaTable expects them.
struct Avx2 {
  // ---- dense row-major: R rows at a time, each an 8-wide dot product per batch row -------------
  template <ValueType T, int B, int R>
  DUO_ISA_TARGET static void denseRows(const DenseView& w, const float* x, float* y, std::int64_t r0,
                                       std::int64_t r1) {
    const std::int64_t cols = w.cols;
    const std::int64_t full = cols / 8 * 8;
    std::int64_t r = r0;
    for (; r + R <= r1; r += R) {
      __m256 acc[R][B];
      for (int i = 0; i < R; ++i)
        for (int b = 0; b < B; ++b) acc[i][b] = _mm256_setzero_ps();
      const std::size_t rowBase = static_cast<std::size_t>(r * w.ld);
      for (std::int64_t c = 0; c < full; c += 8) {
        __m256 xv[B];
        for (int b = 0; b < B; ++b) xv[b] = _mm256_loadu_ps(x + b * cols + c);
        for (int i = 0; i < R; ++i) {
          const __m256 wv = load8<T>(w.values, rowBase + static_cast<std::size_t>(i * w.ld + c));
          for (int b = 0; b < B; ++b) acc[i][b] = _mm256_fmadd_ps(wv, xv[b], acc[i][b]);
        }
      }
      for (int i = 0; i < R; ++i)
        for (int b = 0; b < B; ++b) {
          float sum = sumLanes(acc[i][b]);
          for (std::int64_t c = full; c < cols; ++c)
            sum += loadValue(w.values, T, rowBase + static_cast<std::size_t>(i * w.ld + c)) * x[b * cols + c];
          y[b * w.rows + r + i] = sum;
        }
    }
    if (r < r1) denseRows<T, B, 1>(w, x, y, r, r1);
  }

  // ---- dense column-major: Q columns at a time, 8 rows of y per step ----------------------------
  template <ValueType T, int B, int Q>
  DUO_ISA_TARGET static void colMajorAccumulate(const DenseView& w, const ActiveColumns& a, std::int64_t k0,
                                                std::int64_t k1, float* ys, std::int64_t ysStride, std::int64_t r0,
                                                std::int64_t r1) {
    const std::int64_t rFull = r0 + (r1 - r0) / 8 * 8;
    for (std::int64_t k = k0; k + Q <= k1; k += Q) {
      std::size_t base[Q];
      __m256 xb[Q][B];
      for (int q = 0; q < Q; ++q) {
        base[q] = static_cast<std::size_t>(a.index[k + q]) * static_cast<std::size_t>(w.ld);
        for (int b = 0; b < B; ++b) xb[q][b] = _mm256_set1_ps(a.x[(k + q) * B + b]);
      }
      for (std::int64_t r = r0; r < rFull; r += 8) {
        __m256 wv[Q];
        for (int q = 0; q < Q; ++q) wv[q] = load8<T>(w.values, base[q] + static_cast<std::size_t>(r));
        for (int b = 0; b < B; ++b) {
          __m256 yv = _mm256_loadu_ps(ys + b * ysStride + r);
          for (int q = 0; q < Q; ++q) yv = _mm256_fmadd_ps(wv[q], xb[q][b], yv);
          _mm256_storeu_ps(ys + b * ysStride + r, yv);
        }
      }
      for (std::int64_t r = rFull; r < r1; ++r)
        for (int q = 0; q < Q; ++q) {
          const float wv = loadValue(w.values, T, base[q] + static_cast<std::size_t>(r));
          for (int b = 0; b < B; ++b) ys[b * ysStride + r] += wv * a.x[(k + q) * B + b];
        }
    }
  }

  // ---- column-packed: the 8 rows of bitmap byte m, values taken from `at` on ---------------------
  template <ValueType T>
  DUO_ISA_TARGET static __m256 decode8(unsigned m, const void* values, std::size_t& at) {
    const __m256 v = expand8(m, load8<T>(values, at));
    at += static_cast<std::size_t>(__builtin_popcount(m));
    return v;
  }

  template <ValueType T, int B>
  DUO_ISA_TARGET static void sparseStrip(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                                         std::int64_t ysStride) {
    sparseStripT<Avx2, T, B>(w, s, a, ys, ysStride);
  }

  // ---- N:M row-major: 8 columns per step, values found by a popcount cursor ----------------------
  template <ValueType T, int B>
  DUO_ISA_TARGET static void nmRows(const NmView& w, const float* x, float* y, std::int64_t r0, std::int64_t r1) {
    const std::int64_t cols = w.cols;
    const std::int64_t full = cols / 8 * 8;
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::uint8_t* maskRow = w.mask + r * w.maskRowBytes;
      std::size_t at = static_cast<std::size_t>(r * w.valuesPerRow());
      __m256 acc[B];
      for (int b = 0; b < B; ++b) acc[b] = _mm256_setzero_ps();
      for (std::int64_t c = 0; c < full; c += 8) {
        const __m256 wv = decode8<T>(maskRow[c / 8], w.values, at);
        for (int b = 0; b < B; ++b) acc[b] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + b * cols + c), acc[b]);
      }
      float sum[B];
      for (int b = 0; b < B; ++b) sum[b] = sumLanes(acc[b]);
      for (std::int64_t c = full; c < cols; ++c) {
        if (!((maskRow[c / 8] >> (c % 8)) & 1u)) continue;
        const float wv = loadValue(w.values, T, at++);
        for (int b = 0; b < B; ++b) sum[b] += wv * x[b * cols + c];
      }
      for (int b = 0; b < B; ++b) y[b * w.rows + r] = sum[b];
    }
  }
};

}  // namespace

const IsaKernels& avx2Kernels() { return IsaTable<Avx2>::table(); }

}  // namespace duo::kernels::cpu::detail

#else  // not x86-64: the dispatcher never selects this table.
namespace duo::kernels::cpu::detail {
const IsaKernels& avx2Kernels() { return scalarKernels(); }
}  // namespace duo::kernels::cpu::detail
#endif
