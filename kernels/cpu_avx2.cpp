// AVX2 + FMA building blocks (8 f32 lanes), for x86-64 CPUs without AVX-512. AVX2 has no expand
// instruction, so a bitmap byte selects one of 256 precomputed vpermps index vectors that move the
// next popcount(mask) packed values onto the mask's lanes; the other lanes are then zeroed.
// Row/column tails shorter than 8 run as scalar code. Every function carries the target attribute.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/cpu_isa.h"

#if defined(__x86_64__)
#define DUO_AVX2 __attribute__((target("avx2,fma,f16c,popcnt,bmi,bmi2")))

namespace duo::kernels::cpu::detail {
namespace {

// kExpand.idx[m][i]: for lane i set in mask m, the rank of that bit among m's set bits.
struct ExpandTable {
  alignas(32) std::int32_t idx[256][8];
  constexpr ExpandTable() : idx() {
    for (int m = 0; m < 256; ++m) {
      int rank = 0;
      for (int i = 0; i < 8; ++i) idx[m][i] = (m >> i) & 1 ? rank++ : 0;
    }
  }
};
constexpr ExpandTable kExpand{};

template <ValueType T>
DUO_AVX2 inline __m256 load8(const void* base, std::size_t i) {
  if constexpr (T == ValueType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  } else if constexpr (T == ValueType::I8) {  // the integers q; the row scale comes after the sum
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const std::int8_t*>(base) + i));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(base) + i));
    if constexpr (T == ValueType::F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// Lanes of m get the next popcount(m) values of v in order; the others are zero.
DUO_AVX2 inline __m256 expand8(unsigned m, __m256 v) {
  const __m256i idx = _mm256_load_si256(reinterpret_cast<const __m256i*>(kExpand.idx[m]));
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i keep = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(m)), bits), bits);
  return _mm256_and_ps(_mm256_permutevar8x32_ps(v, idx), _mm256_castsi256_ps(keep));
}

DUO_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- dense row-major ----------------------------------------------------------------------------
template <ValueType T, int B, int R>
DUO_AVX2 void denseRowsT(const DenseView& w, const float* x, float* y, std::int64_t r0, std::int64_t r1) {
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
        float sum = hsum(acc[i][b]);
        for (std::int64_t c = full; c < cols; ++c)
          sum += loadValue(w.values, T, rowBase + static_cast<std::size_t>(i * w.ld + c)) * x[b * cols + c];
        y[b * w.rows + r + i] = sum;
      }
  }
  if (r < r1) denseRowsT<T, B, 1>(w, x, y, r, r1);
}

// ---- dense column-major -------------------------------------------------------------------------
template <ValueType T, int B, int Q>
DUO_AVX2 void colMajorAccumulate(const DenseView& w, const ActiveColumns& a, std::int64_t k0, std::int64_t k1, float* ys,
                                 std::int64_t ysStride, std::int64_t r0, std::int64_t r1) {
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

template <ValueType T, int B, int Q>
DUO_AVX2 void colMajorAddT(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride,
                           std::int64_t r0, std::int64_t r1) {
  const std::int64_t split = a.count / Q * Q;
  colMajorAccumulate<T, B, Q>(w, a, 0, split, ys, ysStride, r0, r1);
  if (Q > 1) colMajorAccumulate<T, B, 1>(w, a, split, a.count, ys, ysStride, r0, r1);
}

// ---- column-packed strip (bitmap: 8 rows per byte; u16: scalar scatter-add) ----------------------
// Bitmap records as in the AVX-512 file: Q columns interleaved (one y load/store per Q columns),
// view fields in locals, the next records prefetched into L2 while these stream.
template <ValueType T, int B, int Q>
DUO_AVX2 void sparseBitmapAccumulate(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a,
                                     std::int64_t k0, std::int64_t k1, float* ys, std::int64_t ysStride) {
  using Stored = std::conditional_t<T == ValueType::F32, float,
                                    std::conditional_t<T == ValueType::I8, std::int8_t, std::uint16_t>>;
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
    const char* next[Q] = {};
    std::int64_t nextLines[Q] = {};
    for (int q = 0; q < Q; ++q) {
      const std::int64_t rec = base + a.index[k + q];
      bm[q] = bitmap + rec * bitmapBytes;
      at[q] = colStart[rec];
      for (int b = 0; b < B; ++b) xb[q][b] = _mm256_set1_ps(a.x[(k + q) * B + b]);
      if (k + 2 * Q <= k1) {
        const std::int64_t nrec = base + a.index[k + Q + q];
        next[q] = bytes + colStart[nrec] * sizeof(Stored);
        nextLines[q] = static_cast<std::int64_t>((colStart[nrec + 1] - colStart[nrec]) * sizeof(Stored) + 63) / 64;
        for (std::int64_t line = 0; line < bitmapBytes; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(bitmap + nrec * bitmapBytes) + line, _MM_HINT_T1);
      }
    }
    for (std::int64_t g = 0; g < steps; ++g) {
      if ((g & 3) == 0)
        for (int q = 0; q < Q; ++q)
          if ((g >> 2) < nextLines[q]) _mm_prefetch(next[q] + 16 * g, _MM_HINT_T1);
      __m256 wv[Q];
      for (int q = 0; q < Q; ++q) {
        const unsigned m = bm[q][g];
        wv[q] = expand8(m, load8<T>(values, at[q]));
        at[q] += static_cast<std::size_t>(__builtin_popcount(m));
      }
      for (int b = 0; b < B; ++b) {
        float* yp = ys + b * ysStride + g * 8;
        __m256 yv = _mm256_loadu_ps(yp);
        for (int q = 0; q < Q; ++q) yv = _mm256_fmadd_ps(wv[q], xb[q][b], yv);
        _mm256_storeu_ps(yp, yv);
      }
    }
  }
}

template <ValueType T, int B>
DUO_AVX2 void sparseStripT(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                           std::int64_t ysStride) {
  if (w.index == IndexKind::Bitmap) {
    constexpr int Q = B <= 2 ? 4 : (B <= 4 ? 2 : 1);
    const std::int64_t split = a.count / Q * Q;
    sparseBitmapAccumulate<T, B, Q>(w, s, a, 0, split, ys, ysStride);
    if (Q > 1) sparseBitmapAccumulate<T, B, 1>(w, s, a, split, a.count, ys, ysStride);
    return;
  }
  for (std::int64_t k = 0; k < a.count; ++k) {
    const std::int64_t rec = w.record(s, a.index[k]);
    for (std::size_t at = w.colStart[rec]; at < w.colStart[rec + 1]; ++at) {
      const float wv = loadValue(w.values, T, at);
      const std::uint16_t r = w.rowIndex[at];
      for (int b = 0; b < B; ++b) ys[b * ysStride + r] += wv * a.x[k * B + b];
    }
  }
}

// ---- N:M row-major: 8 columns per step, values found by a popcount cursor ------------------------
template <ValueType T, int B>
DUO_AVX2 void nmRowsT(const NmView& w, const float* x, float* y, std::int64_t r0, std::int64_t r1) {
  const std::int64_t cols = w.cols;
  const std::int64_t full = cols / 8 * 8;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::uint8_t* maskRow = w.mask + r * w.maskRowBytes;
    std::size_t at = static_cast<std::size_t>(r * w.valuesPerRow());
    __m256 acc[B];
    for (int b = 0; b < B; ++b) acc[b] = _mm256_setzero_ps();
    for (std::int64_t c = 0; c < full; c += 8) {
      const unsigned m = maskRow[c / 8];
      const __m256 wv = expand8(m, load8<T>(w.values, at));
      at += static_cast<std::size_t>(__builtin_popcount(m));
      for (int b = 0; b < B; ++b) acc[b] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + b * cols + c), acc[b]);
    }
    float sum[B];
    for (int b = 0; b < B; ++b) sum[b] = hsum(acc[b]);
    for (std::int64_t c = full; c < cols; ++c) {
      if (!((maskRow[c / 8] >> (c % 8)) & 1u)) continue;
      const float wv = loadValue(w.values, T, at++);
      for (int b = 0; b < B; ++b) sum[b] += wv * x[b * cols + c];
    }
    for (int b = 0; b < B; ++b) y[b * w.rows + r] = sum[b];
  }
}

// ---- batch / type dispatch ----------------------------------------------------------------------
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

template <ValueType T>
DUO_AVX2 void denseRowsTyped(const DenseView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1) {
#define DUO_CALL(B) denseRowsT<T, B, (B <= 2 ? 4 : (B <= 4 ? 2 : 1))>(w, x, y, r0, r1)
  DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
}

template <ValueType T>
DUO_AVX2 void colMajorAddTyped(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride, int batch,
                               std::int64_t r0, std::int64_t r1) {
#define DUO_CALL(B) colMajorAddT<T, B, (B <= 2 ? 4 : (B <= 4 ? 2 : 1))>(w, a, ys, ysStride, r0, r1)
  DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
}

template <ValueType T>
DUO_AVX2 void sparseStripTyped(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                               std::int64_t ysStride, int batch) {
#define DUO_CALL(B) sparseStripT<T, B>(w, s, a, ys, ysStride)
  DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
}

template <ValueType T>
DUO_AVX2 void nmRowsTyped(const NmView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1) {
#define DUO_CALL(B) nmRowsT<T, B>(w, x, y, r0, r1)
  DUO_BATCH_SWITCH(DUO_CALL)
#undef DUO_CALL
}

#define DUO_BY_TYPE(FN, TYPE, ...)                                 \
  switch (TYPE) {                                                  \
    case ValueType::F32: return FN<ValueType::F32>(__VA_ARGS__);   \
    case ValueType::F16: return FN<ValueType::F16>(__VA_ARGS__);   \
    case ValueType::BF16: return FN<ValueType::BF16>(__VA_ARGS__); \
    case ValueType::I8: return FN<ValueType::I8>(__VA_ARGS__);     \
  }

DUO_AVX2 void denseRows(const DenseView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1) {
  DUO_BY_TYPE(denseRowsTyped, w.type, w, x, y, batch, r0, r1)
}
DUO_AVX2 void colMajorAdd(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride, int batch,
                          std::int64_t r0, std::int64_t r1) {
  DUO_BY_TYPE(colMajorAddTyped, w.type, w, a, ys, ysStride, batch, r0, r1)
}
DUO_AVX2 void sparseStripAdd(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                             std::int64_t ysStride, int batch) {
  DUO_BY_TYPE(sparseStripTyped, w.type, w, s, a, ys, ysStride, batch)
}
DUO_AVX2 void nmRows(const NmView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1) {
  DUO_BY_TYPE(nmRowsTyped, w.type, w, x, y, batch, r0, r1)
}

}  // namespace

// Compiled without the target attribute: only hands out addresses.
const IsaKernels& avx2Kernels() {
  static const IsaKernels k{denseRows, colMajorAdd, sparseStripAdd, nmRows};
  return k;
}

}  // namespace duo::kernels::cpu::detail

#else  // not x86-64: the dispatcher never selects this table.
namespace duo::kernels::cpu::detail {
const IsaKernels& avx2Kernels() { return scalarKernels(); }
}  // namespace duo::kernels::cpu::detail
#endif
