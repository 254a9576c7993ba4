// SPDX-License-Identifier: GPL-3.0-or-later
// AVX-512 VNNI (+ VBMI2) int8-input products: the `avx512-vnni` instruction set is the AVX-512 table
// with its three int8-input kernels replaced by these. vpdpbusd multiplies four unsigned bytes by
// four signed bytes and adds them into a 32-bit lane in one instruction, where AVX2 needs vpsignb,
// vpmaddubsw and vpmaddwd; as there, the input's sign moves onto the weight (here a masked
// subtraction from zero, AVX-512 having no vpsignb) and |x| is the unsigned side. Weights and
// inputs lie in [-127, 127], so nothing saturates and the integers are exactly the reference's.
// Every function carries the target attribute; nothing here runs unless the CPU has VNNI and VBMI2.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // as in cpu_avx512.cpp
#endif

#include "kernels/cpu_isa.h"
#include "kernels/sparse_columns.h"

#if defined(__x86_64__)
#define DUO_VNNI \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi2,avx2,fma,f16c,popcnt,bmi,bmi2")))

namespace duo::kernels::cpu::detail {
namespace {

// w with the sign of x moved onto it: -w where x < 0 (the set bits of neg), w elsewhere.
DUO_VNNI inline __m512i signTo(__m512i w, __mmask64 neg) {
  return _mm512_mask_sub_epi8(w, neg, _mm512_setzero_si512(), w);
}

// ---- row-major: two input blocks per step --------------------------------------------------------
// R rows share each pair of blocks' |x| and sign mask; each row's 64 bytes give 16 lanes of 4-byte
// sums, lanes 0-7 block b and 8-15 block b + 1, scaled by their blocks' scales and added in f32. An
// odd last block runs on 256 bits, a partial block as scalar code.
template <int R>
DUO_VNNI void denseRowsQ8Vnni(const DenseView& w, const std::int8_t* q, const float* scale, float* y, std::int64_t r0,
                              std::int64_t r1) {
  const auto* values = static_cast<const std::int8_t*>(w.values);
  const std::int64_t ld = w.ld, cols = w.cols, full = cols / kInputBlock, pairs = full / 2;
  std::int64_t r = r0;
  for (; r + R <= r1; r += R) {
    __m512 acc[R];
    for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
    for (std::int64_t p = 0; p < pairs; ++p) {
      const std::int64_t c = p * 2 * kInputBlock;
      const __m512i xq = _mm512_loadu_si512(q + c);
      const __m512i xa = _mm512_abs_epi8(xq);
      const __mmask64 neg = _mm512_movepi8_mask(xq);
      const __m512 sc = _mm512_insertf32x8(_mm512_set1_ps(scale[2 * p]), _mm256_set1_ps(scale[2 * p + 1]), 1);
      for (int i = 0; i < R; ++i) {
        const std::int8_t* row = values + (r + i) * ld + c;
        // Short rows (a few lines each): fetch the rows 2R ahead, as the AVX2 kernel does, but into
        // L2 (T1): on Zen 4 the T0 hint made SmolLM2's lm_head (49152 x 576) 1.5-1.7x slower.
        if (r + i + 2 * R < r1) _mm_prefetch(reinterpret_cast<const char*>(row + 2 * R * ld), _MM_HINT_T1);
        const __m512i wv = signTo(_mm512_loadu_si512(row), neg);
        const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), xa, wv);
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, acc[i]);
      }
    }
    float sum[R];
    for (int i = 0; i < R; ++i) sum[i] = _mm512_reduce_add_ps(acc[i]);
    if (full % 2 == 1) {
      const std::int64_t c = (full - 1) * kInputBlock;
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + c));
      const __m256i xa = _mm256_abs_epi8(xq);
      for (int i = 0; i < R; ++i) {
        const __m256i wv = _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + (r + i) * ld + c)), xq);
        const __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), xa, wv);
        const __m256i s2 = _mm256_add_epi32(d, _mm256_permute2x128_si256(d, d, 1));
        __m128i s = _mm256_castsi256_si128(s2);
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        sum[i] += scale[full - 1] * static_cast<float>(_mm_cvtsi128_si32(s));
      }
    }
    for (int i = 0; i < R; ++i) {
      if (full * kInputBlock < cols) {
        std::int32_t tail = 0;
        for (std::int64_t j = full * kInputBlock; j < cols; ++j) tail += values[(r + i) * ld + j] * q[j];
        sum[i] += scale[full] * static_cast<float>(tail);
      }
      y[r + i] = sum[i];
    }
  }
  if (r < r1) denseRowsQ8Vnni<1>(w, q, scale, y, r, r1);
}

// ---- column quads: 64 rows of four columns per step ------------------------------------------------
// The four columns' 64 bytes are interleaved byte by byte (vpunpck*, within 128-bit lanes) so each
// row's four weights sit in one 32-bit lane: d[k] holds rows 4k..4k+3 of each 16-row lane group,
// i.e. rows {4k + 16 j + t : j < 4, t < 4}. One vpdpbusd per vector adds the quad's products.
DUO_VNNI inline void quadStep(const __m512i (&wv)[4], __m512i xa, __mmask64 neg, __m512i (&acc)[4]) {
  const __m512i lo01 = _mm512_unpacklo_epi8(wv[0], wv[1]), hi01 = _mm512_unpackhi_epi8(wv[0], wv[1]);
  const __m512i lo23 = _mm512_unpacklo_epi8(wv[2], wv[3]), hi23 = _mm512_unpackhi_epi8(wv[2], wv[3]);
  acc[0] = _mm512_dpbusd_epi32(acc[0], xa, signTo(_mm512_unpacklo_epi16(lo01, lo23), neg));
  acc[1] = _mm512_dpbusd_epi32(acc[1], xa, signTo(_mm512_unpackhi_epi16(lo01, lo23), neg));
  acc[2] = _mm512_dpbusd_epi32(acc[2], xa, signTo(_mm512_unpacklo_epi16(hi01, hi23), neg));
  acc[3] = _mm512_dpbusd_epi32(acc[3], xa, signTo(_mm512_unpackhi_epi16(hi01, hi23), neg));
}

// One 64-row step of a quad added into its sums (four vectors at sp; set instead where `first`).
DUO_VNNI inline void addQuadStep(const __m512i (&wv)[4], __m512i xa, __mmask64 neg, std::int32_t* sp, bool first) {
  __m512i acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = first ? _mm512_setzero_si512() : _mm512_loadu_si512(sp + 16 * i);
  quadStep(wv, xa, neg, acc);
  for (int i = 0; i < 4; ++i) _mm512_storeu_si512(sp + 16 * i, acc[i]);
}

// ys[r] += scale * (row r's sum), for the `n` rows (<= 64) of a step whose sums quadStep left in acc.
DUO_VNNI inline void addStepSums(const __m512i (&acc)[4], float scale, float* ys, std::int64_t n) {
  // acc[k]'s 128-bit lane j holds rows 16 j + 4 k .. +3: gather lane j of the four into rows 16j..16j+15.
  const __m512i t0 = _mm512_shuffle_i32x4(acc[0], acc[1], 0x88), t1 = _mm512_shuffle_i32x4(acc[0], acc[1], 0xdd);
  const __m512i t2 = _mm512_shuffle_i32x4(acc[2], acc[3], 0x88), t3 = _mm512_shuffle_i32x4(acc[2], acc[3], 0xdd);
  const __m512i rows[4] = {_mm512_shuffle_i32x4(t0, t2, 0x88), _mm512_shuffle_i32x4(t1, t3, 0x88),
                           _mm512_shuffle_i32x4(t0, t2, 0xdd), _mm512_shuffle_i32x4(t1, t3, 0xdd)};
  const __m512 sc = _mm512_set1_ps(scale);
  for (int i = 0; i < 4 && 16 * i < n; ++i) {
    const std::int64_t left = n - 16 * i;
    const __mmask16 k = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
    float* yp = ys + 16 * i;
    _mm512_mask_storeu_ps(yp, k, _mm512_fmadd_ps(_mm512_cvtepi32_ps(rows[i]), sc, _mm512_maskz_loadu_ps(k, yp)));
  }
}

// A block's sums (the steps addQuadStep left, 64 ints each) scaled into ys[0, n).
DUO_VNNI inline void addBlockSums(const std::int32_t* sums, float scale, float* ys, std::int64_t n) {
  for (std::int64_t g = 0; 64 * g < n; ++g) {
    const std::int32_t* sp = sums + 64 * g;
    const __m512i acc[4] = {_mm512_loadu_si512(sp), _mm512_loadu_si512(sp + 16), _mm512_loadu_si512(sp + 32),
                            _mm512_loadu_si512(sp + 48)};
    addStepSums(acc, scale, ys + 64 * g, std::min<std::int64_t>(64, n - 64 * g));
  }
}

// The quad's inputs: |x| broadcast to every 32-bit lane, and the lanes' bytes where x < 0.
DUO_VNNI inline void quadInputs(const Q8Columns& a, std::int64_t qd, __m512i& xa, __mmask64& neg) {
  std::int32_t packed, packedAbs;
  std::memcpy(&packed, a.q + 4 * qd, sizeof packed);
  std::memcpy(&packedAbs, a.qAbs + 4 * qd, sizeof packedAbs);
  xa = _mm512_set1_epi32(packedAbs);
  neg = _mm512_movepi8_mask(_mm512_set1_epi32(packed));
}

// Column-major (act-sparse): per block, its quads' 32-bit sums kept in a per-thread buffer (four
// vectors per 64 rows), then scaled into ys; the last step of a height that is not a multiple of 64
// masks its loads. The next quad's columns are prefetched into L2 a line per step (a short column
// ends before the hardware prefetchers have caught on; T1, not T0: 10-15% faster on Zen 4, and it
// made the packed kernel below 1.3x faster).
DUO_VNNI void colMajorAddQ8Vnni(const DenseView&, const Q8Columns& a, float* ys, std::int64_t r0, std::int64_t r1) {
  const std::int64_t n = r1 - r0, steps = (n + 63) / 64;
  thread_local std::vector<std::int32_t> sums;  // [steps * 64]: per step the four vectors quadStep leaves
  if (static_cast<std::int64_t>(sums.size()) < steps * 64) sums.resize(static_cast<std::size_t>(steps * 64));
  const std::int64_t lastQuad = a.count > 0 ? a.blocks[a.count - 1].quadEnd : 0;
  const __mmask64 tail = (n % 64) == 0 ? ~0ull : (1ull << (n % 64)) - 1ull;
  for (std::int64_t bi = 0; bi < a.count; ++bi) {
    const Q8Block& blk = a.blocks[bi];
    const std::int64_t q0 = blk.quadBegin, q1 = blk.quadEnd;
    for (std::int64_t qd = q0; qd < q1; ++qd) {
      const std::int8_t* const* c = a.column + 4 * qd;
      const bool hasNext = qd + 1 < lastQuad;
      const std::int8_t* const* next = hasNext ? a.column + 4 * (qd + 1) : nullptr;
      __m512i xa;
      __mmask64 neg;
      quadInputs(a, qd, xa, neg);
      for (std::int64_t g = 0; g < steps; ++g) {
        const std::int64_t r = r0 + 64 * g;
        if (hasNext)
          for (int i = 0; i < 4; ++i) _mm_prefetch(reinterpret_cast<const char*>(next[i] + r), _MM_HINT_T1);
        __m512i wv[4];
        if (g + 1 < steps || tail == ~0ull) {  // plain loads: masked ones streamed 10-20% slower on Zen 4
          for (int i = 0; i < 4; ++i) wv[i] = _mm512_loadu_si512(c[i] + r);
        } else {
          for (int i = 0; i < 4; ++i) wv[i] = _mm512_maskz_loadu_epi8(tail, c[i] + r);
        }
        addQuadStep(wv, xa, neg, sums.data() + 64 * g, qd == q0);
      }
    }
    addBlockSums(sums.data(), blk.scale, ys + r0, n);
  }
}

// Column-packed int8 W, bitmap records: the same quads, each column's 64 rows expanded from its
// record first (vpexpandb puts the popcount(m) next values on the set bits of the 64-bit bitmap word
// m, zeros elsewhere; the value arrays carry kValuePad, so the 64-byte load past the last value
// stays inside). The bitmap's bits past the strip's height are 0, so a short last step expands to
// zeros there. The next quad's bitmaps and values are prefetched while this one streams. u16
// records keep the AVX-512 table's kernel.
DUO_VNNI void sparseStripAddQ8Vnni(const SparseColumnsView& w, std::int32_t s, const Q8Columns& a, float* ys) {
  static_assert(kValuePad >= 64, "the 64-byte value loads read past the last value");
  const std::int64_t rows = w.stripEnd(s) - w.stripBegin(s), steps = (rows + 63) / 64;
  thread_local std::vector<std::int32_t> sums;  // [steps * 64]: per step the four vectors quadStep leaves
  if (static_cast<std::int64_t>(sums.size()) < steps * 64) sums.resize(static_cast<std::size_t>(steps * 64));
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
      nextQuadRecords(w, a, base, qd, next, nextLines, [](const char* p) { _mm_prefetch(p, _MM_HINT_T1); });
      __m512i xa;
      __mmask64 neg;
      quadInputs(a, qd, xa, neg);
      for (std::int64_t g = 0; g < steps; ++g) {
        for (int i = 0; i < 4; ++i)  // a record holds at most one line of values per 64 rows
          if (g < nextLines[i]) _mm_prefetch(next[i] + 64 * g, _MM_HINT_T1);
        __m512i wv[4];
        for (int i = 0; i < 4; ++i) {
          std::uint64_t m;
          std::memcpy(&m, bm[i] + 8 * g, sizeof m);
          wv[i] = _mm512_maskz_expand_epi8(m, _mm512_loadu_si512(v[i]));
          v[i] += __builtin_popcountll(m);
        }
        addQuadStep(wv, xa, neg, sums.data() + 64 * g, qd == q0);
      }
    }
    addBlockSums(sums.data(), blk.scale, ys, rows);
  }
}

DUO_VNNI void denseRowsQ8Table(const DenseView& w, const std::int8_t* q, const float* scale, float* y, std::int64_t r0,
                               std::int64_t r1) {
  denseRowsQ8Vnni<4>(w, q, scale, y, r0, r1);
}

void sparseStripAddQ8Table(const SparseColumnsView& w, std::int32_t s, const Q8Columns& a, float* ys) {
  if (w.index != IndexKind::Bitmap) return avx512Kernels().sparseStripAddQ8(w, s, a, ys);
  sparseStripAddQ8Vnni(w, s, a, ys);
}

}  // namespace

bool cpuHasVnni() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0 && __builtin_cpu_supports("avx512vbmi2") != 0;
  }();
  return has;
}

const IsaKernels& avx512VnniKernels() {
  static const IsaKernels k = [] {
    IsaKernels t = avx512Kernels();
    t.denseRowsQ8 = denseRowsQ8Table;
    t.colMajorAddQ8 = colMajorAddQ8Vnni;
    t.sparseStripAddQ8 = sparseStripAddQ8Table;
    return t;
  }();
  return k;
}

}  // namespace duo::kernels::cpu::detail

#else  // not x86-64: the dispatcher never selects this table.
namespace duo::kernels::cpu::detail {
bool cpuHasVnni() { return false; }
const IsaKernels& avx512VnniKernels() { return scalarKernels(); }
}  // namespace duo::kernels::cpu::detail
#endif
