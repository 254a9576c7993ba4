// SPDX-License-Identifier: GPL-3.0-or-later
// GGML's K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: 256-element super-blocks of 16- or 32-element
// sub-blocks, each sub-block with its own scale (and min) packed in a few bits under the
// super-block's f16 d (and dmin).
#include <cstdint>

#include "core/model/io/dequant_blocks.h"

namespace duo::dequant_blocks {

namespace {

// The 12 packed scale bytes of Q4_K/Q5_K hold 8 six-bit scales and 8 six-bit mins, one pair per
// 32-element sub-block j: for j < 4 the low 6 bits of bytes j (scale) and j+4 (min); for j >= 4
// the low/high nibble of byte j+4 plus the top 2 bits of bytes j-4 (scale) and j (min).
void scaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *mn = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace

// Q2_K super-block (84 bytes): u8 scales[16]; u8 qs[64]; f16 d; f16 dmin. Sixteen 16-element
// sub-blocks; byte k's low nibble is sub-block k's scale, its high nibble the min. Two 128-element
// halves use 32 bytes of qs each: element 16s + l of a half (s = 0..7, l = 0..15) is bits
// 2(s/2)..2(s/2)+1 of qs[l + 16(s%2)]; value = d * scale * q - dmin * min.
void dequantQ2_K(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 84) {
    const uint8_t* scales = b;
    const uint8_t* qs = b + 16;
    const float d = h2f(b + 80);
    const float dmin = h2f(b + 82);
    for (int half = 0; half < 2; ++half, qs += 32) {
      for (int s = 0; s < 8; ++s, y += 16) {
        const uint8_t sc = scales[half * 8 + s];
        const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
        const uint8_t* q = qs + 16 * (s % 2);
        const int shift = 2 * (s / 2);
        for (int l = 0; l < 16; ++l) y[l] = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
      }
    }
  }
}

// Q3_K super-block (110 bytes): u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d. Sixteen 16-element
// sub-blocks with signed 6-bit scales (stored + 32): sub-block j's low 4 bits are the low nibble of
// scales[j] (j < 8) or the high nibble of scales[j-8], its top 2 bits are bits 2(j/4).. of
// scales[8 + j%4]. Low 2 bits of q as Q2_K; the third bit, for element e = 128h + 16s + l, is bit
// (4h + s/2) of hmask[l + 16(s%2)], and a clear bit subtracts 4: value = d * (scale - 32) * q.
void dequantQ3_K(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 110) {
    const uint8_t* hmask = b;
    const uint8_t* qs = b + 32;
    const uint8_t* sb = b + 96;
    const float d = h2f(b + 108);
    for (int half = 0; half < 2; ++half, qs += 32) {
      for (int s = 0; s < 8; ++s, y += 16) {
        const int j = half * 8 + s;
        const int low = j < 8 ? (sb[j] & 0x0F) : (sb[j - 8] >> 4);
        const int high = (sb[8 + j % 4] >> (2 * (j / 4))) & 3;
        const float dl = d * static_cast<float>((low | (high << 4)) - 32);
        const uint8_t* q = qs + 16 * (s % 2);
        const uint8_t* hm = hmask + 16 * (s % 2);
        const int shift = 2 * (s / 2);
        const uint8_t bit = static_cast<uint8_t>(1u << (4 * half + s / 2));
        for (int l = 0; l < 16; ++l) {
          const int q3 = ((q[l] >> shift) & 3) - ((hm[l] & bit) ? 0 : 4);
          y[l] = dl * static_cast<float>(q3);
        }
      }
    }
  }
}

namespace {

// Q4_K and Q5_K: f16 d; f16 dmin; u8 scales[12]; (Q5_K only) u8 qh[32]; u8 qs[128]. Four
// 64-element chunks c, each using 32 bytes of qs: low nibbles give sub-block 2c, high nibbles
// sub-block 2c+1; in Q5_K bit j of qh[l] is the fifth bit of element l of sub-block j.
// value = d * scale_j * q - dmin * min_j.
template <bool kFifthBit>
void dequantQ45_K(const uint8_t* b, float* y, int64_t nBlocks) {
  constexpr int64_t kBlockBytes = 4 + kKScaleBytes + (kFifthBit ? 32 : 0) + 128;
  for (int64_t i = 0; i < nBlocks; ++i, b += kBlockBytes) {
    const float d = h2f(b);
    const float dmin = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 4 + kKScaleBytes;
    const uint8_t* qs = qh + (kFifthBit ? 32 : 0);
    for (int c = 0; c < 4; ++c, qs += 32) {
      for (int half = 0; half < 2; ++half) {  // low nibbles, then high
        const int j = 2 * c + half;
        uint8_t sc, mn;
        scaleMinK4(j, scales, &sc, &mn);
        const float dl = d * sc, ml = dmin * mn;
        const uint8_t bit = static_cast<uint8_t>(1u << j);
        for (int l = 0; l < 32; ++l) {
          int q = (qs[l] >> (4 * half)) & 0x0F;
          if (kFifthBit && (qh[l] & bit)) q += 16;
          *y++ = dl * static_cast<float>(q) - ml;
        }
      }
    }
  }
}

}  // namespace

// Q4_K super-block (144 bytes): no fifth bits.
void dequantQ4_K(const uint8_t* b, float* y, int64_t nBlocks) { dequantQ45_K<false>(b, y, nBlocks); }

// Q5_K super-block (176 bytes): 32 bytes of fifth bits before qs.
void dequantQ5_K(const uint8_t* b, float* y, int64_t nBlocks) { dequantQ45_K<true>(b, y, nBlocks); }

// Q6_K super-block (210 bytes): u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. Two 128-element
// halves, each using 64 bytes of ql, 32 of qh and 8 scales. In a half, element l + 32k
// (k = 0..3, l = 0..31) takes its low 4 bits from ql[l + 32(k&1)] (low nibble for k < 2, high
// for k >= 2) and its top 2 bits from qh[l] >> 2k; value = d * scales[k*2 + l/16] * (q - 32).
void dequantQ6_K(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 210) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = h2f(b + 208);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace duo::dequant_blocks
