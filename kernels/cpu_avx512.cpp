// SPDX-License-Identifier: GPL-3.0-or-later
// AVX-512 building blocks: dense kernels on 16 f32 lanes; the column-packed kernels decode a
// record's bitmap 8 rows at a time with masked 8-lane permutes (AVX-512VL), so a pruned weight is
// neither stored nor loaded; N:M rows use vexpandps (16 columns per step). What this file shares
// with cpu_avx2.cpp (the 8-row column-packed strip, the dispatch) is in cpu_common.h.
// Every function carries the target attribute; nothing here runs unless the CPU has AVX-512.
#include <immintrin.h>

#include <cstring>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's own AVX-512 intrinsics start from _mm512_undefined_*() and trip this warning when
// inlined (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/cpu_isa.h"

#if defined(__x86_64__)
#define DUO_ISA_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,popcnt,bmi,bmi2")))
#include "kernels/cpu_common.h"

namespace duo::kernels::cpu::detail {
namespace {

// 16 values from index i of a values array of type T, as f32 (I8: the integers q; the row scale
// comes after the sum). Masked: only the lanes set in k are read, the others are zero (the tail of a
// row or column).
template <ValueType T, bool Masked = false>
DUO_ISA_TARGET inline __m512 load16(const void* base, std::size_t i, __mmask16 k = 0xffff) {
  const Stored<T>* p = static_cast<const Stored<T>*>(base) + i;
  if constexpr (T == ValueType::F32) {
    return Masked ? _mm512_maskz_loadu_ps(k, p) : _mm512_loadu_ps(p);
  } else if constexpr (T == ValueType::I8) {
    const __m128i q = Masked ? _mm_maskz_loadu_epi8(k, p) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
  } else {
    const __m256i h =
        Masked ? _mm256_maskz_loadu_epi16(k, p) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (T == ValueType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

DUO_ISA_TARGET inline __mmask16 tailMask(std::int64_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u);
}

DUO_ISA_TARGET inline std::uint16_t loadU16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// int8 bitmap records, 64 rows per step (AVX-512 VBMI2): the record's next 64 bytes are loaded at
// its cursor and vpexpandb moves the popcount(m) kept values onto the set bits of the 64-bit bitmap
// word m (zeroing the rest); four 16-lane converts and FMAs add them into the strip's y. Against the
// 8-row permute steps this is about a third of the instructions per weight slot, which is what
// int8 values need: at one byte per value the permute path is bound by instructions, not bytes.
// The last step of a strip whose height is not a multiple of 64 masks its y loads and stores.
#define DUO_AVX512_VBMI2 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi2,avx2,fma,f16c,popcnt,bmi,bmi2")))

template <int B, int Q>
DUO_AVX512_VBMI2 void sparseStripBitmapI8Accumulate(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a,
                                                     std::int64_t k0, std::int64_t k1, float* ys,
                                                     std::int64_t ysStride) {
  const std::int8_t* const values = static_cast<const std::int8_t*>(w.values);
  const std::uint8_t* const bitmap = w.bitmap;
  const std::uint32_t* const colStart = w.colStart;
  const std::int64_t bitmapBytes = w.bitmapBytes;
  const std::int64_t base = static_cast<std::int64_t>(s) * w.cols;
  const std::int64_t rows = w.stripEnd(s) - w.stripBegin(s);
  const std::int64_t steps = (rows + 63) / 64;
  for (std::int64_t k = k0; k + Q <= k1; k += Q) {
    const std::uint8_t* bm[Q];
    std::size_t at[Q];
    __m512 xb[Q][B];
    const char* next[Q] = {};
    std::int64_t nextBytes[Q] = {};
    for (int q = 0; q < Q; ++q) {
      const std::int64_t rec = base + a.index[k + q];
      bm[q] = bitmap + rec * bitmapBytes;
      at[q] = colStart[rec];
      for (int b = 0; b < B; ++b) xb[q][b] = _mm512_set1_ps(a.x[(k + q) * B + b]);
      if (k + 2 * Q <= k1) {  // the next columns' records, fetched while these stream
        const std::int64_t nrec = base + a.index[k + Q + q];
        next[q] = reinterpret_cast<const char*>(values + colStart[nrec]);
        nextBytes[q] = colStart[nrec + 1] - colStart[nrec];
        for (std::int64_t line = 0; line < bitmapBytes; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(bitmap + nrec * bitmapBytes) + line, _MM_HINT_T1);
      }
    }
    for (std::int64_t g = 0; g < steps; ++g) {
      const std::int64_t left = rows - g * 64;  // rows in this step: 64, or the strip's tail
      __mmask16 lane[4];
      for (int i = 0; i < 4; ++i) lane[i] = tailMask(left - 16 * i < 0 ? 0 : left - 16 * i);
      float* yb = ys + g * 64;
      __m512 yv[B][4];
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < 4; ++i) yv[b][i] = _mm512_maskz_loadu_ps(lane[i], yb + b * ysStride + 16 * i);
      for (int q = 0; q < Q; ++q) {
        if (g * 64 < nextBytes[q]) _mm_prefetch(next[q] + g * 64, _MM_HINT_T1);
        std::uint64_t m;
        std::memcpy(&m, bm[q] + g * 8, sizeof m);
        const __m512i packed = _mm512_loadu_si512(values + at[q]);
        const __m512i e = _mm512_maskz_expand_epi8(m, packed);
        at[q] += static_cast<std::size_t>(__builtin_popcountll(m));
        const __m512 wv[4] = {_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_castsi512_si128(e))),
                              _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(e, 1))),
                              _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(e, 2))),
                              _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(e, 3)))};
        for (int b = 0; b < B; ++b)
          for (int i = 0; i < 4; ++i) yv[b][i] = _mm512_fmadd_ps(wv[i], xb[q][b], yv[b][i]);
      }
      for (int b = 0; b < B; ++b)
        for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(yb + b * ysStride + 16 * i, lane[i], yv[b][i]);
    }
  }
}

template <int B, int Q>
DUO_AVX512_VBMI2 void sparseStripBitmapI8(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                                          std::int64_t ysStride) {
  const std::int64_t split = a.count / Q * Q;
  sparseStripBitmapI8Accumulate<B, Q>(w, s, a, 0, split, ys, ysStride);
  if (Q > 1) sparseStripBitmapI8Accumulate<B, 1>(w, s, a, split, a.count, ys, ysStride);
}

bool cpuHasVbmi2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vbmi2") != 0;
  }();
  return has;
}

// The AVX-512 kernels, as cpu_common.h's IsaTable expects them.
struct Avx512 {
  // ---- dense row-major: R rows at a time, each a 16-wide dot product per batch row ---------------
  template <ValueType T, int B, int R>
  DUO_ISA_TARGET static void denseRows(const DenseView& w, const float* x, float* y, std::int64_t r0, std::int64_t r1) {
    const std::int64_t cols = w.cols;
    const std::int64_t full = cols / 16 * 16;
    const __mmask16 tail = tailMask(cols - full);
    std::int64_t r = r0;
    for (; r + R <= r1; r += R) {
      __m512 acc[R][B];
      for (int i = 0; i < R; ++i)
        for (int b = 0; b < B; ++b) acc[i][b] = _mm512_setzero_ps();
      const std::size_t rowBase = static_cast<std::size_t>(r * w.ld);
      for (std::int64_t c = 0; c < full; c += 16) {
        __m512 xv[B];
        for (int b = 0; b < B; ++b) xv[b] = _mm512_loadu_ps(x + b * cols + c);
        for (int i = 0; i < R; ++i) {
          const __m512 wv = load16<T>(w.values, rowBase + static_cast<std::size_t>(i * w.ld + c));
          for (int b = 0; b < B; ++b) acc[i][b] = _mm512_fmadd_ps(wv, xv[b], acc[i][b]);
        }
      }
      if (full < cols) {
        __m512 xv[B];
        for (int b = 0; b < B; ++b) xv[b] = _mm512_maskz_loadu_ps(tail, x + b * cols + full);
        for (int i = 0; i < R; ++i) {
          const __m512 wv = load16<T, true>(w.values, rowBase + static_cast<std::size_t>(i * w.ld + full), tail);
          for (int b = 0; b < B; ++b) acc[i][b] = _mm512_fmadd_ps(wv, xv[b], acc[i][b]);
        }
      }
      for (int i = 0; i < R; ++i)
        for (int b = 0; b < B; ++b) y[b * w.rows + r + i] = _mm512_reduce_add_ps(acc[i][b]);
    }
    if (r < r1) denseRows<T, B, 1>(w, x, y, r, r1);
  }

  // ---- dense column-major: Q columns at a time, 16 rows of y per step -------------------------
  // Adds columns [k0, k1) of `a` onto y rows [r0, r1).
  template <ValueType T, int B, int Q>
  DUO_ISA_TARGET static void colMajorAccumulate(const DenseView& w, const ActiveColumns& a, std::int64_t k0,
                                                std::int64_t k1, float* ys, std::int64_t ysStride, std::int64_t r0,
                                                std::int64_t r1) {
    for (std::int64_t k = k0; k + Q <= k1; k += Q) {
      std::size_t base[Q];
      __m512 xb[Q][B];
      for (int q = 0; q < Q; ++q) {
        base[q] = static_cast<std::size_t>(a.index[k + q]) * static_cast<std::size_t>(w.ld);
        for (int b = 0; b < B; ++b) xb[q][b] = _mm512_set1_ps(a.x[(k + q) * B + b]);
      }
      // The next columns start elsewhere (skipped columns break the stream): fetch them into L2 as
      // these stream, one line per column per step.
      const char* next[Q] = {};
      const bool prefetch = k + 2 * Q <= k1;
      if (prefetch)
        for (int q = 0; q < Q; ++q)
          next[q] = static_cast<const char*>(w.values) +
                    static_cast<std::size_t>(a.index[k + Q + q]) * static_cast<std::size_t>(w.ld) * sizeof(Stored<T>);
      std::int64_t r = r0;
      for (; r + 16 <= r1; r += 16) {
        if (prefetch)
          for (int q = 0; q < Q; ++q)
            _mm_prefetch(next[q] + r * static_cast<std::int64_t>(sizeof(Stored<T>)), _MM_HINT_T1);
        __m512 wv[Q];
        for (int q = 0; q < Q; ++q) wv[q] = load16<T>(w.values, base[q] + static_cast<std::size_t>(r));
        for (int b = 0; b < B; ++b) {
          __m512 yv = _mm512_loadu_ps(ys + b * ysStride + r);
          for (int q = 0; q < Q; ++q) yv = _mm512_fmadd_ps(wv[q], xb[q][b], yv);
          _mm512_storeu_ps(ys + b * ysStride + r, yv);
        }
      }
      if (r < r1) {
        const __mmask16 t = tailMask(r1 - r);
        __m512 wv[Q];
        for (int q = 0; q < Q; ++q) wv[q] = load16<T, true>(w.values, base[q] + static_cast<std::size_t>(r), t);
        for (int b = 0; b < B; ++b) {
          __m512 yv = _mm512_maskz_loadu_ps(t, ys + b * ysStride + r);
          for (int q = 0; q < Q; ++q) yv = _mm512_fmadd_ps(wv[q], xb[q][b], yv);
          _mm512_mask_storeu_ps(ys + b * ysStride + r, t, yv);
        }
      }
    }
  }

  // ---- column-packed strip ----------------------------------------------------------------------
  // Bitmap records, decoded 8 rows at a time (cpu_common.h): the bitmap byte m selects a precomputed
  // vpermps index vector that moves the next popcount(m) packed values onto m's lanes, and the masked
  // permute zeroes the other lanes. (vexpandps does the same in one instruction but is about twice as
  // slow on Zen 4: 6.6 against 3.6 cycles per 16 rows, measured in tools-free microbenchmarks on this
  // machine.) The values at `at` on (which advances past them).
  template <ValueType T>
  DUO_ISA_TARGET static __m256 decode8(unsigned m, const void* values, std::size_t& at) {
    const __m256i idx = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPermute.idx[m]));
    const __m256 v = _mm256_maskz_permutexvar_ps(static_cast<__mmask8>(m), idx, load8<T>(values, at));
    at += static_cast<std::size_t>(__builtin_popcount(m));
    return v;
  }

  // Int8 bitmap records take the 64-row VBMI2 path where the CPU has it.
  template <ValueType T, int B>
  DUO_ISA_TARGET static void sparseStrip(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a,
                                         float* ys, std::int64_t ysStride) {
    if (T == ValueType::I8 && w.index == IndexKind::Bitmap && cpuHasVbmi2())
      sparseStripBitmapI8<B, kInterleave<B>>(w, s, a, ys, ysStride);
    else
      sparseStripT<Avx512, T, B>(w, s, a, ys, ysStride);
  }


  // ---- N:M row-major: 16 columns per step, vexpandps places the chunk's values on its mask --------
  template <ValueType T, int B>
  DUO_ISA_TARGET static void nmRows(const NmView& w, const float* x, float* y, std::int64_t r0, std::int64_t r1) {
    const std::int64_t cols = w.cols;
    const std::int64_t perChunk = 16 / w.m * w.n;  // values per 16 columns
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::uint8_t* maskRow = w.mask + r * w.maskRowBytes;
      const std::size_t vbase = static_cast<std::size_t>(r * w.valuesPerRow());
      __m512 acc[2][B];
      for (int b = 0; b < B; ++b) acc[0][b] = acc[1][b] = _mm512_setzero_ps();
      std::int64_t c = 0, chunk = 0;
      for (; c < cols; c += 16, ++chunk) {
        const std::uint16_t m = loadU16(maskRow + c / 8);
        const __m512 wv =
            _mm512_maskz_expand_ps(m, load16<T>(w.values, vbase + static_cast<std::size_t>(chunk * perChunk)));
        const __mmask16 t = tailMask(cols - c);
        for (int b = 0; b < B; ++b)
          acc[chunk & 1][b] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(t, x + b * cols + c), acc[chunk & 1][b]);
      }
      for (int b = 0; b < B; ++b) y[b * w.rows + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[0][b], acc[1][b]));
    }
  }
};

}  // namespace

const IsaKernels& avx512Kernels() { return IsaTable<Avx512>::table(); }

}  // namespace duo::kernels::cpu::detail

#else  // not x86-64: the dispatcher never selects this table.
namespace duo::kernels::cpu::detail {
const IsaKernels& avx512Kernels() { return scalarKernels(); }
}  // namespace duo::kernels::cpu::detail
#endif
