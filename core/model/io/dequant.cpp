#include "core/model/io/dequant.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/common/error.h"

namespace duo {

namespace {

constexpr int64_t kQK = 32;    // elements per block of the 32-wide formats (Q4_0 .. Q8_0, IQ4_NL)
constexpr int64_t kQKK = 256;  // elements per super-block of the K formats
constexpr int kKScaleBytes = 12;

struct TypeRow {
  uint32_t id;
  GgmlTypeTraits traits;
};

// Sizes from ggml's block structs; dequantizable marks the types dequantize() decodes.
const TypeRow kTypes[] = {
    {0, {"F32", 1, 4, true}},
    {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", kQK, 2 + 16, true}},
    {3, {"Q4_1", kQK, 2 + 2 + 16, true}},
    {6, {"Q5_0", kQK, 2 + 4 + 16, true}},
    {7, {"Q5_1", kQK, 2 + 2 + 4 + 16, true}},
    {8, {"Q8_0", kQK, 2 + 32, true}},
    {9, {"Q8_1", kQK, 2 + 2 + 32, false}},
    {10, {"Q2_K", kQKK, 2 + 2 + kQKK / 16 + kQKK / 4, true}},
    {11, {"Q3_K", kQKK, 2 + kQKK / 4 + kQKK / 8 + 12, true}},
    {12, {"Q4_K", kQKK, 2 + 2 + kKScaleBytes + kQKK / 2, true}},
    {13, {"Q5_K", kQKK, 2 + 2 + kKScaleBytes + kQKK / 8 + kQKK / 2, true}},
    {14, {"Q6_K", kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2, true}},
    {15, {"Q8_K", kQKK, 4 + kQKK + kQKK / 8, false}},
    {16, {"IQ2_XXS", kQKK, 2 + kQKK / 4, true}},
    {17, {"IQ2_XS", kQKK, 2 + kQKK / 4 + kQKK / 32, true}},
    {18, {"IQ3_XXS", kQKK, 2 + kQKK / 4 + kQKK / 8, true}},
    {19, {"IQ1_S", kQKK, 2 + kQKK / 8 + kQKK / 16, true}},
    {20, {"IQ4_NL", kQK, 2 + 16, true}},
    {21, {"IQ3_S", kQKK, 2 + kQKK / 4 + kQKK / 8 + kQKK / 32 + 4, true}},
    {22, {"IQ2_S", kQKK, 2 + kQKK / 4 + kQKK / 16, true}},
    {23, {"IQ4_XS", kQKK, 2 + 2 + kQKK / 2 + kQKK / 64, true}},
    {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},
    {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},
    {29, {"IQ1_M", kQKK, kQKK / 8 + kQKK / 16 + kQKK / 32, true}},
    {30, {"BF16", 1, 2, true}},
    {34, {"TQ1_0", kQKK, 2 + 4 * 13, true}},
    {35, {"TQ2_0", kQKK, 2 + 64, true}},
    {39, {"MXFP4", kQK, 1 + 16, true}},
    {40, {"NVFP4", 64, 4 + 32, true}},
};

uint16_t loadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// 65536-entry half -> float table, built once (thread-safe static init).
const std::array<float, 65536>& halfTable() {
  static const std::array<float, 65536> table = [] {
    std::array<float, 65536> t{};
    for (uint32_t i = 0; i < 65536; ++i) t[i] = halfToFloat(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

uint32_t loadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

float h2f(const uint8_t* p) { return halfTable()[loadU16(p)]; }

// Q4_0 block (18 bytes): f16 d; u8 qs[16]. Element j (<16) is the low nibble of qs[j], element
// j+16 the high nibble; value = (q - 8) * d.
void dequantQ4_0(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 18, y += kQK) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1 block (20 bytes): f16 d; f16 m; u8 qs[16]; nibbles as Q4_0; value = q * d + m.
void dequantQ4_1(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 20, y += kQK) {
    const float d = h2f(b);
    const float m = h2f(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

// Q5_0 block (22 bytes): f16 d; u8 qh[4]; u8 qs[16]. Nibbles as Q4_0; bit j of the little-endian
// u32 qh is the fifth bit of element j (j < 32); value = (q - 16) * d.
void dequantQ5_0(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 22, y += kQK) {
    const float d = h2f(b);
    const uint32_t qh = loadU32(b + 2);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(lo - 16) * d;
      y[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

// Q5_1 block (24 bytes): f16 d; f16 m; u8 qh[4]; u8 qs[16]; five-bit q as Q5_0; value = q * d + m.
void dequantQ5_1(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 24, y += kQK) {
    const float d = h2f(b);
    const float m = h2f(b + 2);
    const uint32_t qh = loadU32(b + 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(lo) * d + m;
      y[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

// Q8_0 block (34 bytes): f16 d; i8 qs[32]; value = q * d.
void dequantQ8_0(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 34, y += kQK) {
    const float d = h2f(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
  }
}

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

// Q4_K super-block (144 bytes): f16 d; f16 dmin; u8 scales[12]; u8 qs[128]. Four 64-element
// chunks, each using 32 bytes of qs: low nibbles give sub-block 2c, high nibbles sub-block 2c+1;
// value = d * scale_j * q - dmin * min_j.
void dequantQ4_K(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 144) {
    const float d = h2f(b);
    const float dmin = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 4 + kKScaleBytes;
    for (int c = 0; c < 4; ++c, q += 32) {
      uint8_t sc, mn;
      scaleMinK4(2 * c, scales, &sc, &mn);
      const float d1 = d * sc, m1 = dmin * mn;
      scaleMinK4(2 * c + 1, scales, &sc, &mn);
      const float d2 = d * sc, m2 = dmin * mn;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0F) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Q5_K super-block (176 bytes): f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]. As Q4_K,
// plus a fifth bit per element: bit j of qh[l] belongs to element l of sub-block j.
void dequantQ5_K(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 176) {
    const float d = h2f(b);
    const float dmin = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 4 + kKScaleBytes;
    const uint8_t* ql = qh + 32;
    for (int c = 0; c < 4; ++c, ql += 32) {
      uint8_t sc, mn;
      scaleMinK4(2 * c, scales, &sc, &mn);
      const float d1 = d * sc, m1 = dmin * mn;
      scaleMinK4(2 * c + 1, scales, &sc, &mn);
      const float d2 = d * sc, m2 = dmin * mn;
      const uint8_t bit1 = static_cast<uint8_t>(1u << (2 * c));
      const uint8_t bit2 = static_cast<uint8_t>(2u << (2 * c));
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & bit1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & bit2) ? 16 : 0)) - m2;
    }
  }
}

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

// IQ4_NL's 16 non-linear levels (ggml's kvalues_iq4nl), shared with IQ4_XS.
constexpr int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_NL block (18 bytes): f16 d; u8 qs[16]; nibbles as Q4_0 index kIq4Levels; value = d * level.
void dequantIQ4_NL(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 18, y += kQK) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4Levels[qs[j] & 0x0F]);
      y[j + 16] = d * static_cast<float>(kIq4Levels[qs[j] >> 4]);
    }
  }
}

// IQ4_XS super-block (136 bytes): f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]. Eight
// 32-element sub-blocks with 6-bit scales (stored + 32): low 4 bits in nibble (ib % 2) of
// scales_l[ib / 2], top 2 bits at bit 2*ib of scales_h; each sub-block is an IQ4_NL block's
// nibble layout over 16 bytes of qs; value = d * (scale - 32) * level.
void dequantIQ4_XS(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 136) {
    const float d = h2f(b);
    const uint16_t scalesH = loadU16(b + 2);
    const uint8_t* scalesL = b + 4;
    const uint8_t* qs = b + 8;
    for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
      const int ls = ((scalesL[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((scalesH >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4Levels[qs[j] & 0x0F]);
        y[j + 16] = dl * static_cast<float>(kIq4Levels[qs[j] >> 4]);
      }
    }
  }
}

// TQ1_0 super-block (54 bytes): u8 qs[48]; u8 qh[4]; f16 d. Ternary digits packed five to a byte
// (four in qh) as a base-3 fraction: digit n of byte x is ((uint8)(x * 3^n) * 3) >> 8. Element order:
// qs[0..32) give 160 elements, digit-major (element 32n + m from byte m); qs[32..48) give 80
// (16n + m); qh gives the last 16 (4n + m). value = (digit - 1) * d.
void dequantTQ1_0(const uint8_t* b, float* y, int64_t nBlocks) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  auto digit = [](uint8_t x, int n) {
    const uint8_t q = static_cast<uint8_t>(x * kPow3[n]);
    return static_cast<int>((static_cast<uint16_t>(q) * 3) >> 8) - 1;
  };
  for (int64_t i = 0; i < nBlocks; ++i, b += 54) {
    const uint8_t* qs = b;
    const uint8_t* qh = b + 48;
    const float d = h2f(b + 52);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(digit(qs[m], n)) * d;
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) *y++ = static_cast<float>(digit(qs[32 + m], n)) * d;
    for (int n = 0; n < 4; ++n)
      for (int m = 0; m < 4; ++m) *y++ = static_cast<float>(digit(qh[m], n)) * d;
  }
}

// TQ2_0 super-block (66 bytes): u8 qs[64]; f16 d. Two 128-element halves of 32 bytes; element
// 32l + m of a half is bits 2l..2l+1 of byte m; value = (q - 1) * d.
void dequantTQ2_0(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 66) {
    const float d = h2f(b + 64);
    for (int half = 0; half < 2; ++half)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((b[32 * half + m] >> (2 * l)) & 3) - 1) * d;
  }
}

// MXFP4 block (17 bytes): u8 e (E8M0 shared exponent); u8 qs[16] of E2M1 codes, nibbles as Q4_0.
// ggml stores the E2M1 values doubled, so the scale is half of 2^(e - 127); value = scale * level.
void dequantMXFP4(const uint8_t* b, float* y, int64_t nBlocks) {
  static constexpr int8_t kLevels[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  for (int64_t i = 0; i < nBlocks; ++i, b += 17, y += kQK) {
    // 2^(e - 128) as float bits: a normal exponent field e - 1, or a subnormal for e < 2
    const uint32_t e = b[0];
    const uint32_t bits = e < 2 ? (0x00200000u << e) : ((e - 1) << 23);
    float d;
    std::memcpy(&d, &bits, 4);
    const uint8_t* qs = b + 1;
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kLevels[qs[j] & 0x0F]);
      y[j + 16] = d * static_cast<float>(kLevels[qs[j] >> 4]);
    }
  }
}

// NVFP4 block (36 bytes, 64 elements): u8 scales[4] (unsigned E4M3, bias 7; 0 and 0x7F read as
// 0); u8 qs[32]. Sub-block j (16 elements) uses scale j and qs[8j..8j+8): low nibbles give
// elements 0-7, high nibbles 8-15, as MXFP4's doubled E2M1 levels; value = scale / 2 * level.
void dequantNVFP4(const uint8_t* b, float* y, int64_t nBlocks) {
  static constexpr int8_t kLevels[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  for (int64_t i = 0; i < nBlocks; ++i, b += 36) {
    for (int j = 0; j < 4; ++j, y += 16) {
      const uint8_t x = b[j];
      const int exp = (x >> 3) & 0x0F, man = x & 7;
      float d = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
      d = (x == 0 || x == 0x7F) ? 0.0f : d * 0.5f;
      const uint8_t* qs = b + 4 + 8 * j;
      for (int l = 0; l < 8; ++l) {
        y[l] = d * static_cast<float>(kLevels[qs[l] & 0x0F]);
        y[l + 8] = d * static_cast<float>(kLevels[qs[l] >> 4]);
      }
    }
  }
}

// --- The codebook ("grid") types: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M ---------
// Each index selects a codeword of 8 (or 4) magnitudes from a fixed lattice (iq_grids.inc); signs
// come as 8 explicit bits per 8 values, or as a 7-bit index whose 8th sign makes the count of
// minus signs even (kSignsFromIndex).
#include "core/model/io/iq_grids.inc"

// 7-bit sign index -> 8 sign bits: the index plus a top bit that gives an even number of ones.
uint8_t signBits(uint32_t index7) {
  const uint32_t i = index7 & 127u;
  return static_cast<uint8_t>(i | ((__builtin_popcount(i) & 1) << 7));
}

uint8_t gridByte(uint64_t row, int k) { return static_cast<uint8_t>(row >> (8 * k)); }

// 8 values of codeword `row` times db, negated where bit k of `signs` is set.
void put8(float* y, uint64_t row, uint8_t signs, float db) {
  for (int k = 0; k < 8; ++k)
    y[k] = db * static_cast<float>(gridByte(row, k)) * ((signs >> k) & 1 ? -1.0f : 1.0f);
}

// IQ2_XXS super-block (66 bytes): f16 d; u32 q[16] as 8 pairs, one per 32-element sub-block: the
// first word's 4 bytes index kIq2xxsGrid (8 values each), the second holds four 7-bit sign
// indices (bits 0, 7, 14, 21) and a 4-bit scale s (bits 28-31); db = d * (0.5 + s) / 4.
void dequantIQ2_XXS(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 66) {
    const float d = h2f(b);
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t* grid = b + 2 + 8 * ib;
      const uint32_t aux = loadU32(b + 2 + 8 * ib + 4);
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) put8(y, kIq2xxsGrid[grid[l]], signBits(aux >> (7 * l)), db);
    }
  }
}

// IQ2_XS super-block (74 bytes): f16 d; u16 q[32]; u8 scales[8]. Each u16: kIq2xsGrid index in
// bits 0-8, sign index in bits 9-15. Scale nibble j (low then high of scales[j/2]) covers q[2j],
// q[2j+1]; db = d * (0.5 + s) / 4.
void dequantIQ2_XS(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 74) {
    const float d = h2f(b);
    const uint8_t* scales = b + 66;
    for (int k = 0; k < 32; ++k, y += 8) {
      const uint16_t q = loadU16(b + 2 + 2 * k);
      const int s = (scales[k / 4] >> (4 * ((k / 2) % 2))) & 0x0F;
      const float db = d * (0.5f + static_cast<float>(s)) * 0.25f;
      put8(y, kIq2xsGrid[q & 511], signBits(q >> 9), db);
    }
  }
}

// IQ2_S super-block (82 bytes): f16 d; u8 qs[32]; u8 signs[32]; u8 qh[8]; u8 scales[8]. Row k
// indexes kIq2sGrid with qs[k] | ((qh[k/4] >> 2(k%4)) & 3) << 8; its 8 signs are the bits of
// signs[k]; scale nibble j covers rows 2j, 2j+1 as in IQ2_XS.
void dequantIQ2_S(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 82) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    const uint8_t* signs = b + 34;
    const uint8_t* qh = b + 66;
    const uint8_t* scales = b + 74;
    for (int k = 0; k < 32; ++k, y += 8) {
      const int s = (scales[k / 4] >> (4 * ((k / 2) % 2))) & 0x0F;
      const float db = d * (0.5f + static_cast<float>(s)) * 0.25f;
      const uint32_t index = qs[k] | (((qh[k / 4] >> (2 * (k % 4))) & 3u) << 8);
      put8(y, kIq2sGrid[index], signs[k], db);
    }
  }
}

// 4 values of a 4-wide codeword times db, negated where bit (k + shift) of `signs` is set.
void put4(float* y, uint32_t row, uint8_t signs, int shift, float db) {
  for (int k = 0; k < 4; ++k)
    y[k] = db * static_cast<float>(static_cast<uint8_t>(row >> (8 * k))) * ((signs >> (k + shift)) & 1 ? -1.0f : 1.0f);
}

// IQ3_XXS super-block (98 bytes): f16 d; u8 qs[64]; u32 aux[8]. Sub-block ib (32 elements) uses
// qs[8ib..8ib+8) (each a kIq3xxsGrid index of 4 values) and aux[ib]: sign indices at bits 0, 7,
// 14, 21 for its four 8-value groups, scale s in bits 28-31; db = d * (0.5 + s) / 2.
void dequantIQ3_XXS(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 98) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int ib = 0; ib < 8; ++ib) {
      const uint32_t aux = loadU32(b + 66 + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = signBits(aux >> (7 * l));
        put4(y, kIq3xxsGrid[qs[8 * ib + 2 * l]], signs, 0, db);
        put4(y + 4, kIq3xxsGrid[qs[8 * ib + 2 * l + 1]], signs, 4, db);
      }
    }
  }
}

// IQ3_S super-block (110 bytes): f16 d; u8 qs[64]; u8 qh[8]; u8 signs[32]; u8 scales[4]. Index k
// (4 values) = qs[k] | ((qh[k/8] >> (k%8)) & 1) << 8 into kIq3sGrid; element e's sign is bit e%8
// of signs[e/8]; scale nibble ib covers 32 elements; db = d * (1 + 2s).
void dequantIQ3_S(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 110) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    const uint8_t* qh = b + 66;
    const uint8_t* signs = b + 74;
    const uint8_t* scales = b + 106;
    for (int k = 0; k < 64; ++k, y += 4) {
      const int s = (scales[k / 16] >> (4 * ((k / 8) % 2))) & 0x0F;
      const float db = d * static_cast<float>(1 + 2 * s);
      const uint32_t index = qs[k] | (((qh[k / 8] >> (k % 8)) & 1u) << 8);
      put4(y, kIq3sGrid[index], signs[k / 2], 4 * (k % 2), db);
    }
  }
}

// One IQ1 codeword: values in {-1, 0, 1} (int8 bytes of kIq1sGrid), value = dl * (v + delta).
void put8Iq1(float* y, uint64_t row, float dl, float delta) {
  for (int k = 0; k < 8; ++k) y[k] = dl * (static_cast<float>(static_cast<int8_t>(gridByte(row, k))) + delta);
}

constexpr float kIq1Delta = 0.125f;

// IQ1_S super-block (50 bytes): f16 d; u8 qs[32]; u16 qh[8]. Sub-block ib (32 elements) has
// qh[ib]: 3 high index bits per row at bits 3l (row l = qs[4ib + l]), a 3-bit scale s at bits
// 12-14 and the delta's sign at bit 15; dl = d * (2s + 1), delta = -+1/8.
void dequantIQ1_S(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 50) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int ib = 0; ib < 8; ++ib) {
      const uint16_t qh = loadU16(b + 34 + 2 * ib);
      const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
      const float delta = (qh & 0x8000) ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8)
        put8Iq1(y, kIq1sGrid[qs[4 * ib + l] | (((qh >> (3 * l)) & 7u) << 8)], dl, delta);
    }
  }
}

// IQ1_M super-block (56 bytes): u8 qs[32]; u8 qh[16]; u16 sc[4]. The f16 d is split over the top
// nibbles of sc[0..3] (lowest first). Row k: nibble k%2 of qh[k/2] gives 3 high index bits and
// (bit 3) the delta's sign. 3-bit scale j (bits 3(j%4) of sc[j/4]) covers rows 2j, 2j+1;
// dl = d * (2s + 1).
void dequantIQ1_M(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 56) {
    const uint8_t* qs = b;
    const uint8_t* qh = b + 32;
    uint16_t sc[4];
    for (int j = 0; j < 4; ++j) sc[j] = loadU16(b + 48 + 2 * j);
    const uint16_t dBits = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) |
                                                 (sc[3] & 0xF000));
    const float d = halfTable()[dBits];
    for (int k = 0; k < 32; ++k, y += 8) {
      const int j = k / 2;
      const float dl = d * static_cast<float>(2 * ((sc[j / 4] >> (3 * (j % 4))) & 7) + 1);
      const int nib = (qh[k / 2] >> (4 * (k % 2))) & 0x0F;
      const float delta = (nib & 8) ? -kIq1Delta : kIq1Delta;
      put8Iq1(y, kIq1sGrid[qs[k] | ((nib & 7) << 8)], dl, delta);
    }
  }
}

}  // namespace

GgmlTypeTraits typeTraits(uint32_t type) {
  for (const TypeRow& r : kTypes)
    if (r.id == type) return r.traits;
  return {};
}

std::string dequantizableTypeNames() {
  std::string names;
  for (const TypeRow& r : kTypes)
    if (r.traits.dequantizable) names += (names.empty() ? "" : ", ") + std::string(r.traits.name);
  return names;
}

std::string ggmlTypeName(uint32_t type) {
  const GgmlTypeTraits t = typeTraits(type);
  return t.name != nullptr ? std::string(t.name) : "type " + std::to_string(type);
}

int64_t ggmlByteSize(uint32_t type, int64_t elems) {
  const GgmlTypeTraits t = typeTraits(type);
  if (t.name == nullptr || elems < 0 || elems % t.blockElems != 0) return -1;
  const int64_t blocks = elems / t.blockElems;
  if (blocks > std::numeric_limits<int64_t>::max() / t.blockBytes) return -1;
  return blocks * t.blockBytes;
}

void dequantize(GgmlType type, const void* src, float* dst, int64_t elems) {
  const auto id = static_cast<uint32_t>(type);
  const GgmlTypeTraits t = typeTraits(id);
  DUO_CHECK(t.name != nullptr && t.dequantizable, "dequantize: storage type ", ggmlTypeName(id),
            " is not supported (supported: ", dequantizableTypeNames(), ")");
  DUO_CHECK(elems >= 0 && elems % t.blockElems == 0, "dequantize: ", elems, " elements of ", t.name,
            " is not a whole number of ", t.blockElems, "-element blocks");
  if (elems == 0) return;  // nothing to do; src/dst may be null (an empty vector's data())
  const auto* b = static_cast<const uint8_t*>(src);
  const int64_t nBlocks = elems / t.blockElems;
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(elems) * 4); return;
    case GgmlType::F16: {
      // src may be unaligned inside a mapped file: go through the byte-wise loader.
      const auto& table = halfTable();
      for (int64_t i = 0; i < elems; ++i) dst[i] = table[loadU16(b + 2 * i)];
      return;
    }
    case GgmlType::BF16:
      for (int64_t i = 0; i < elems; ++i) dst[i] = bf16ToFloat(loadU16(b + 2 * i));
      return;
    case GgmlType::Q4_0: dequantQ4_0(b, dst, nBlocks); return;
    case GgmlType::Q4_1: dequantQ4_1(b, dst, nBlocks); return;
    case GgmlType::Q5_0: dequantQ5_0(b, dst, nBlocks); return;
    case GgmlType::Q5_1: dequantQ5_1(b, dst, nBlocks); return;
    case GgmlType::Q8_0: dequantQ8_0(b, dst, nBlocks); return;
    case GgmlType::Q2_K: dequantQ2_K(b, dst, nBlocks); return;
    case GgmlType::Q3_K: dequantQ3_K(b, dst, nBlocks); return;
    case GgmlType::Q4_K: dequantQ4_K(b, dst, nBlocks); return;
    case GgmlType::Q5_K: dequantQ5_K(b, dst, nBlocks); return;
    case GgmlType::Q6_K: dequantQ6_K(b, dst, nBlocks); return;
    case GgmlType::IQ2_XXS: dequantIQ2_XXS(b, dst, nBlocks); return;
    case GgmlType::IQ2_XS: dequantIQ2_XS(b, dst, nBlocks); return;
    case GgmlType::IQ2_S: dequantIQ2_S(b, dst, nBlocks); return;
    case GgmlType::IQ3_XXS: dequantIQ3_XXS(b, dst, nBlocks); return;
    case GgmlType::IQ3_S: dequantIQ3_S(b, dst, nBlocks); return;
    case GgmlType::IQ1_S: dequantIQ1_S(b, dst, nBlocks); return;
    case GgmlType::IQ1_M: dequantIQ1_M(b, dst, nBlocks); return;
    case GgmlType::IQ4_NL: dequantIQ4_NL(b, dst, nBlocks); return;
    case GgmlType::IQ4_XS: dequantIQ4_XS(b, dst, nBlocks); return;
    case GgmlType::TQ1_0: dequantTQ1_0(b, dst, nBlocks); return;
    case GgmlType::TQ2_0: dequantTQ2_0(b, dst, nBlocks); return;
    case GgmlType::MXFP4: dequantMXFP4(b, dst, nBlocks); return;
    case GgmlType::NVFP4: dequantNVFP4(b, dst, nBlocks); return;
    default: break;
  }
  DUO_ASSERT(false);  // every dequantizable type has a case above
}

float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;  // +-0
    } else {      // subnormal: normalise into a float32 normal
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan (payload kept)
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16ToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t absx = x & 0x7FFFFFFF;
  if (absx > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00);  // nan
  if (absx >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00);  // overflow -> inf
  if (absx < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (absx < 0x33000000u) return sign;  // rounds to zero
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;  // value = m * 2^(e-150) = q * 2^-24  =>  q = m >> (126 - e)
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  // normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even
  uint32_t h = ((absx >> 13) - ((127 - 15) << 10));
  const uint32_t rem = absx & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | h);
}

void halfToFloat(const uint16_t* src, float* dst, int64_t n) {
  const auto& table = halfTable();
  for (int64_t i = 0; i < n; ++i) dst[i] = table[src[i]];
}

void bf16ToFloat(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16ToFloat(src[i]);
}

}  // namespace duo
