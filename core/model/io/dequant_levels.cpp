// SPDX-License-Identifier: GPL-3.0-or-later
// GGML's types whose codes each select one value of a small fixed level set: IQ4_NL and IQ4_XS
// (16 non-linear levels), TQ1_0 and TQ2_0 (ternary digits {-1, 0, 1}), MXFP4 and NVFP4 (E2M1
// values under an E8M0 or E4M3 block scale).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/model/io/dequant_blocks.h"

namespace duo::dequant_blocks {

namespace {

// IQ4_NL's 16 non-linear levels (ggml's kvalues_iq4nl), shared with IQ4_XS.
constexpr int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace

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

}  // namespace duo::dequant_blocks
