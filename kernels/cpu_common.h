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
#include <cstring>
#include <type_traits>
#include <vector>

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

// ---- int8 inputs: llama.cpp's Q8_0 x Q8_0 arithmetic -------------------------------------------
// vpmaddubsw multiplies unsigned by signed bytes and adds neighbours into 16 bits, so the input's
// sign moves onto the weight (vpsignb) and its magnitude is the unsigned side; with |q| <= 127 on
// both sides a pair's sum stays within 16 bits, and vpmaddwd adds pairs of those into 32 bits.

// 32-bit sums of each four adjacent byte products w * x (xa = |x|).
DUO_ISA_TARGET inline __m256i dot4(__m256i w, __m256i x, __m256i xa) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(w, x)), _mm256_set1_epi16(1));
}

// The sum of v's 8 lanes.
DUO_ISA_TARGET inline float sumLanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// quantizeInputBlocks, bit for bit for finite x: the same max, the same IEEE division, and
// vroundps's round-half-to-even is std::nearbyint's default rounding.
DUO_ISA_TARGET inline void quantizeInputsT(const float* x, std::int64_t n, std::int8_t* q, float* scale) {
  const std::int64_t full = n / kInputBlock;
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (std::int64_t b = 0; b < full; ++b) {
    const float* xb = x + b * kInputBlock;
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], absMask), _mm256_and_ps(v[1], absMask)),
                             _mm256_max_ps(_mm256_and_ps(v[2], absMask), _mm256_and_ps(v[3], absMask)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float mx = _mm_cvtss_f32(m4);
    const float s = mx > 0.0f ? mx / 127.0f : 1.0f;
    scale[b] = s;
    const __m256 sv = _mm256_set1_ps(s);
    __m256i qi[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 r = _mm256_round_ps(_mm256_div_ps(v[i], sv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      qi[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
    }
    // The packs work within 128-bit lanes: dwords come out as x0-3, x8-11, x16-19, x24-27, x4-7, ...
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kInputBlock),
                        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  if (full * kInputBlock < n)
    quantizeInputBlocks(x + full * kInputBlock, n - full * kInputBlock, q + full * kInputBlock, scale + full);
}

// Row-major: R rows share each block's input load; a partial last block runs as scalar code.
template <int R>
DUO_ISA_TARGET void denseRowsQ8T(const DenseView& w, const std::int8_t* q, const float* scale, float* y,
                                 std::int64_t r0, std::int64_t r1) {
  const auto* values = static_cast<const std::int8_t*>(w.values);
  const std::int64_t ld = w.ld, cols = w.cols, full = cols / kInputBlock;
  std::int64_t r = r0;
  for (; r + R <= r1; r += R) {
    __m256 acc[R];
    for (int i = 0; i < R; ++i) acc[i] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < full; ++b) {
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + b * kInputBlock));
      const __m256i xa = _mm256_abs_epi8(xq);
      const __m256 sc = _mm256_set1_ps(scale[b]);
      for (int i = 0; i < R; ++i) {
        // Rows are short (a few lines each): the hardware prefetchers see R streams that keep
        // ending, so fetch the rows 2R ahead, one line per two blocks, into L2 (T1: on a Zen 4,
        // `--isa avx2`, SmolLM2's lm_head took 822-886 us against 1430-1568 us with T0).
        const std::int8_t* row = values + (r + i) * ld + b * kInputBlock;
        if ((b & 1) == 0 && r + i + 2 * R < r1) _mm_prefetch(reinterpret_cast<const char*>(row + 2 * R * ld), _MM_HINT_T1);
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot4(wv, xq, xa)), sc, acc[i]);
      }
    }
    for (int i = 0; i < R; ++i) {
      float sum = sumLanes(acc[i]);
      if (full * kInputBlock < cols) {
        std::int32_t tail = 0;
        for (std::int64_t j = full * kInputBlock; j < cols; ++j) tail += values[(r + i) * ld + j] * q[j];
        sum += scale[full] * static_cast<float>(tail);
      }
      y[r + i] = sum;
    }
  }
  if (r < r1) denseRowsQ8T<1>(w, q, scale, y, r, r1);
}

// ys[i] += scale * the 32-bit sum of row i, for i < n (a multiple of 32), from sums as the quad
// steps leave them: per 32 rows four vectors whose 128-bit lanes hold rows 0-3 | 16-19, 4-7 | 20-23,
// 8-11 | 24-27 and 12-15 | 28-31.
DUO_ISA_TARGET inline void addQuadSums(const std::int32_t* sums, float scale, float* ys, std::int64_t n) {
  const __m256 sc = _mm256_set1_ps(scale);
  for (std::int64_t r = 0; r < n; r += 32) {
    const __m256i* sp = reinterpret_cast<const __m256i*>(sums + r);
    const __m256i acc[4] = {_mm256_loadu_si256(sp), _mm256_loadu_si256(sp + 1), _mm256_loadu_si256(sp + 2),
                            _mm256_loadu_si256(sp + 3)};
    const __m256i rows[4] = {_mm256_permute2x128_si256(acc[0], acc[1], 0x20),   // rows 0-7
                             _mm256_permute2x128_si256(acc[2], acc[3], 0x20),   // rows 8-15
                             _mm256_permute2x128_si256(acc[0], acc[1], 0x31),   // rows 16-23
                             _mm256_permute2x128_si256(acc[2], acc[3], 0x31)};  // rows 24-31
    for (int i = 0; i < 4; ++i) {
      float* yp = ys + r + 8 * i;
      _mm256_storeu_ps(yp, _mm256_fmadd_ps(_mm256_cvtepi32_ps(rows[i]), sc, _mm256_loadu_ps(yp)));
    }
  }
}

// Column-major: quad after quad, its four columns streamed whole, 32 rows at a time, interleaved
// byte by byte so that each row's four products sit side by side (vpunpck*); 32-bit sums kept over
// the block in a per-thread buffer, then scaled into ys. Four forward streams at a time are what
// the hardware prefetchers follow (reading a block's ~16 columns side by side, 32 rows each, ran
// at 60-70% of this speed), and the next quad's columns are prefetched into L2 a line per two
// tiles, since a short column ends before the prefetchers have caught on (T1: on a Zen 4, `--isa
// avx2`, 576 x 1536 took 26-27 us against 33-37 us with T0; the Zen 3 showed no difference). Rows past the last multiple of 32 run
// as scalar code.
DUO_ISA_TARGET inline void colMajorAddQ8T(const DenseView&, const Q8Columns& a, float* ys, std::int64_t r0,
                                          std::int64_t r1) {
  const std::int64_t rFull = r0 + (r1 - r0) / 32 * 32;
  thread_local std::vector<std::int32_t> sums;  // [rFull - r0] per 32 rows: 4 x 8 lanes as the quads leave them
  if (static_cast<std::int64_t>(sums.size()) < rFull - r0) sums.resize(static_cast<std::size_t>(rFull - r0));
  const std::int64_t lastQuad = a.count > 0 ? a.blocks[a.count - 1].quadEnd : 0;  // (prefetching two ahead: no gain)
  for (std::int64_t bi = 0; bi < a.count; ++bi) {
    const Q8Block& blk = a.blocks[bi];
    const std::int64_t q0 = blk.quadBegin, q1 = blk.quadEnd;
    for (std::int64_t qd = q0; qd < q1; ++qd) {
      const std::int8_t* const* c = a.column + 4 * qd;
      // The next quad (in this block or the next one) is fetched while this one streams.
      const bool hasNext = qd + 1 < lastQuad;
      const std::int8_t* const* next = hasNext ? a.column + 4 * (qd + 1) : nullptr;
      std::int32_t packed, packedAbs;
      std::memcpy(&packed, a.q + 4 * qd, sizeof packed);
      std::memcpy(&packedAbs, a.qAbs + 4 * qd, sizeof packedAbs);
      const __m256i xq = _mm256_set1_epi32(packed);
      const __m256i xa = _mm256_set1_epi32(packedAbs);
      const std::int8_t* c0 = c[0];
      const std::int8_t* c1 = c[1];
      const std::int8_t* c2 = c[2];
      const std::int8_t* c3 = c[3];
      for (std::int64_t r = r0; r < rFull; r += 32) {
        if (hasNext && ((r - r0) & 63) == 0)
          for (int i = 0; i < 4; ++i) _mm_prefetch(reinterpret_cast<const char*>(next[i] + r), _MM_HINT_T1);
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + r));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c1 + r));
        const __m256i w2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c2 + r));
        const __m256i w3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c3 + r));
        // Within each 128-bit lane: rows 0-7 (lo) and 8-15 (hi) as column pairs, then as quads.
        const __m256i lo01 = _mm256_unpacklo_epi8(w0, w1), hi01 = _mm256_unpackhi_epi8(w0, w1);
        const __m256i lo23 = _mm256_unpacklo_epi8(w2, w3), hi23 = _mm256_unpackhi_epi8(w2, w3);
        // Lanes of d[0]: rows 0-3 and 16-19; d[1]: 4-7, 20-23; d[2]: 8-11, 24-27; d[3]: 12-15, 28-31.
        const __m256i d[4] = {dot4(_mm256_unpacklo_epi16(lo01, lo23), xq, xa),
                              dot4(_mm256_unpackhi_epi16(lo01, lo23), xq, xa),
                              dot4(_mm256_unpacklo_epi16(hi01, hi23), xq, xa),
                              dot4(_mm256_unpackhi_epi16(hi01, hi23), xq, xa)};
        __m256i* sp = reinterpret_cast<__m256i*>(sums.data() + (r - r0));
        for (int i = 0; i < 4; ++i)
          _mm256_storeu_si256(sp + i, qd == q0 ? d[i] : _mm256_add_epi32(_mm256_loadu_si256(sp + i), d[i]));
      }
    }
    addQuadSums(sums.data(), blk.scale, ys + r0, rFull - r0);
    for (std::int64_t r = rFull; r < r1; ++r) {
      std::int32_t sum = 0;
      for (std::int64_t i = 4 * q0; i < 4 * q1; ++i) sum += a.column[i][r] * a.q[i];
      ys[r] += blk.scale * static_cast<float>(sum);
    }
  }
}

// ---- int8 inputs over column-packed int8 W (bitmap records) -------------------------------------
// The quads of colMajorAddQ8T, with each column's 32 rows first expanded from its record: the 32
// bitmap bits pick where the packed values go (vpshufb, 16 rows per 128-bit lane), zeros elsewhere.

// Byte i of kExpand8.v[m]: for bit i set in m, its rank among m's set bits (where that row's value
// sits among the group's packed values); 0x80 (vpshufb writes 0) where bit i is clear.
struct Expand8Table {
  std::uint64_t v[256];
  constexpr Expand8Table() : v() {
    for (int m = 0; m < 256; ++m) {
      std::uint64_t e = 0;
      int rank = 0;
      for (int i = 0; i < 8; ++i) e |= static_cast<std::uint64_t>((m >> i) & 1 ? rank++ : 0x80) << (8 * i);
      v[m] = e;
    }
  }
};
constexpr Expand8Table kExpand8{};

// vpshufb's control for 16 rows with mask m (16 bits): the upper 8 rows' ranks move past the lower
// 8's values (adding to a 0x80 byte keeps its top bit, so it still writes 0).
DUO_ISA_TARGET inline __m128i expandControl16(std::uint32_t m) {
  const std::uint64_t lo = kExpand8.v[m & 0xffu];
  const auto below = static_cast<std::uint64_t>(_mm_popcnt_u32(m & 0xffu));  // values of the lower 8 rows
  const std::uint64_t hi = kExpand8.v[(m >> 8) & 0xffu] + 0x0101010101010101ull * below;
  return _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
}

// 32 rows of a bitmap record (mask m) as int8 weights, 0 where pruned; `v` moves past their values
// (the loads read up to 32 bytes past them: the value arrays carry kValuePad).
DUO_ISA_TARGET inline __m256i expand32(std::uint32_t m, const std::int8_t*& v) {
  const int low = _mm_popcnt_u32(m & 0xffffu);
  const __m256i src = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + low)), 1);
  const __m256i ctrl = _mm256_inserti128_si256(_mm256_castsi128_si256(expandControl16(m)), expandControl16(m >> 16), 1);
  v += _mm_popcnt_u32(m);
  return _mm256_shuffle_epi8(src, ctrl);
}

// Strip s: quad after quad, 32 rows at a time (the 32 bits of each column's bitmap at once), then
// the rows past the last multiple of 32 as scalar code; 32-bit sums per block as in colMajorAddQ8T.
// The next quad's bitmaps and values are prefetched while this one streams (its records start
// elsewhere: the prefetchers lose the stream at each jump). u16 records go to the scalar kernel.
DUO_ISA_TARGET inline void sparseStripAddQ8T(const SparseColumnsView& w, std::int32_t s, const Q8Columns& a,
                                             float* ys) {
  if (w.index != IndexKind::Bitmap) return scalarKernels().sparseStripAddQ8(w, s, a, ys);
  const std::int64_t rows = w.stripEnd(s) - w.stripBegin(s), rFull = rows / 32 * 32;
  thread_local std::vector<std::int32_t> sums;  // [rows] the 32 rows of a step as the quads leave them
  if (static_cast<std::int64_t>(sums.size()) < rows) sums.resize(static_cast<std::size_t>(rows));
  const std::int64_t base = w.record(s, 0);
  for (std::int64_t bi = 0; bi < a.count; ++bi) {
    const Q8Block& blk = a.blocks[bi];
    const std::int64_t q0 = blk.quadBegin, q1 = blk.quadEnd;
    for (std::int64_t qd = q0; qd < q1; ++qd) {
      const QuadRecords rec = quadRecords(w, a, base, qd);
      const std::uint8_t* const* bm = rec.bitmap;
      const std::int8_t* v[4] = {rec.values[0], rec.values[1], rec.values[2], rec.values[3]};
      const char* next[4];
      std::int64_t nextLines[4];
      nextQuadRecords(w, a, base, qd, next, nextLines, [](const char* p) { _mm_prefetch(p, _MM_HINT_T0); });
      std::int32_t packed, packedAbs;
      std::memcpy(&packed, a.q + 4 * qd, sizeof packed);
      std::memcpy(&packedAbs, a.qAbs + 4 * qd, sizeof packedAbs);
      const __m256i xq = _mm256_set1_epi32(packed);
      const __m256i xa = _mm256_set1_epi32(packedAbs);
      for (std::int64_t r = 0; r < rFull; r += 32) {
        const std::int64_t line = r / 32;  // a record holds at most one line of values per 64 rows
        for (int i = 0; i < 4; ++i)
          if (line < nextLines[i]) _mm_prefetch(next[i] + 64 * line, _MM_HINT_T0);
        __m256i wv[4];
        for (int i = 0; i < 4; ++i) {
          std::uint32_t m;
          std::memcpy(&m, bm[i] + r / 8, sizeof m);
          wv[i] = expand32(m, v[i]);
        }
        const __m256i lo01 = _mm256_unpacklo_epi8(wv[0], wv[1]), hi01 = _mm256_unpackhi_epi8(wv[0], wv[1]);
        const __m256i lo23 = _mm256_unpacklo_epi8(wv[2], wv[3]), hi23 = _mm256_unpackhi_epi8(wv[2], wv[3]);
        const __m256i d[4] = {dot4(_mm256_unpacklo_epi16(lo01, lo23), xq, xa),
                              dot4(_mm256_unpackhi_epi16(lo01, lo23), xq, xa),
                              dot4(_mm256_unpacklo_epi16(hi01, hi23), xq, xa),
                              dot4(_mm256_unpackhi_epi16(hi01, hi23), xq, xa)};
        __m256i* sp = reinterpret_cast<__m256i*>(sums.data() + r);
        for (int i = 0; i < 4; ++i)
          _mm256_storeu_si256(sp + i, qd == q0 ? d[i] : _mm256_add_epi32(_mm256_loadu_si256(sp + i), d[i]));
      }
      for (std::int64_t r = rFull; r < rows; ++r) {
        std::int32_t sum = qd == q0 ? 0 : sums[static_cast<std::size_t>(r)];
        for (int i = 0; i < 4; ++i)
          if ((bm[i][r / 8] >> (r % 8)) & 1u) sum += static_cast<std::int32_t>(*v[i]++) * a.q[4 * qd + i];
        sums[static_cast<std::size_t>(r)] = sum;
      }
    }
    addQuadSums(sums.data(), blk.scale, ys, rFull);
    for (std::int64_t r = rFull; r < rows; ++r)
      ys[r] += blk.scale * static_cast<float>(sums[static_cast<std::size_t>(r)]);
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

  DUO_ISA_TARGET static void quantizeInputs(const float* x, std::int64_t n, std::int8_t* q, float* scale) {
    quantizeInputsT(x, n, q, scale);
  }
  DUO_ISA_TARGET static void denseRowsQ8(const DenseView& w, const std::int8_t* q, const float* scale, float* y,
                                         std::int64_t r0, std::int64_t r1) {
    denseRowsQ8T<4>(w, q, scale, y, r0, r1);
  }
  DUO_ISA_TARGET static void colMajorAddQ8(const DenseView& w, const Q8Columns& a, float* ys, std::int64_t r0,
                                           std::int64_t r1) {
    colMajorAddQ8T(w, a, ys, r0, r1);
  }
  DUO_ISA_TARGET static void sparseStripAddQ8(const SparseColumnsView& w, std::int32_t s, const Q8Columns& a,
                                              float* ys) {
    sparseStripAddQ8T(w, s, a, ys);
  }

  // Compiled without the target attribute: only hands out addresses.
  static const IsaKernels& table() {
    static const IsaKernels k{denseRows, colMajorAdd, sparseStripAdd, nmRows, quantizeInputs, denseRowsQ8,
                              colMajorAddQ8, sparseStripAddQ8};
    return k;
  }
};

#undef DUO_BY_TYPE
#undef DUO_BATCH_SWITCH

}  // namespace
}  // namespace duo::kernels::cpu::detail
