// SPDX-License-Identifier: GPL-3.0-or-later
// GGML's 32-element block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: one f16 scale d per block (plus an
// f16 min m for the _1 types) over 4-, 5- or 8-bit codes; value = (q - offset) * d or q * d + m.
#include <cstdint>

#include "core/model/io/dequant_blocks.h"

namespace duo::dequant_blocks {

namespace {

// Q4_0, Q4_1, Q5_0, Q5_1: f16 d, then (the _1 types) an f16 min m, then (the Q5 types) a
// little-endian u32 qh, then u8 qs[16]. Element j (< 16) is the low nibble of qs[j], element j+16
// the high nibble; in the Q5 types bit j of qh is element j's fifth bit (j < 32). Value
// (q - offset) * d with offset 8 (Q4_0) or 16 (Q5_0), or q * d + m for the _1 types.
template <bool kFifthBit, bool kMin>
void dequantQ45(const uint8_t* b, float* y, int64_t nBlocks) {
  constexpr int64_t kBlockBytes = 2 + (kMin ? 2 : 0) + (kFifthBit ? 4 : 0) + 16;
  constexpr int kOffset = kFifthBit ? 16 : 8;
  for (int64_t i = 0; i < nBlocks; ++i, b += kBlockBytes, y += kQK) {
    const float d = h2f(b);
    const float m = kMin ? h2f(b + 2) : 0.0f;
    const uint8_t* p = b + (kMin ? 4 : 2);
    const uint32_t qh = kFifthBit ? loadU32(p) : 0;
    const uint8_t* qs = p + (kFifthBit ? 4 : 0);
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      if constexpr (kMin) {
        y[j] = static_cast<float>(lo) * d + m;
        y[j + 16] = static_cast<float>(hi) * d + m;
      } else {
        y[j] = static_cast<float>(lo - kOffset) * d;
        y[j + 16] = static_cast<float>(hi - kOffset) * d;
      }
    }
  }
}

}  // namespace

// Q4_0 block (18 bytes): f16 d; u8 qs[16]; value = (q - 8) * d.
void dequantQ4_0(const uint8_t* b, float* y, int64_t nBlocks) { dequantQ45<false, false>(b, y, nBlocks); }

// Q4_1 block (20 bytes): f16 d; f16 m; u8 qs[16]; value = q * d + m.
void dequantQ4_1(const uint8_t* b, float* y, int64_t nBlocks) { dequantQ45<false, true>(b, y, nBlocks); }

// Q5_0 block (22 bytes): f16 d; u8 qh[4]; u8 qs[16]; value = (q - 16) * d.
void dequantQ5_0(const uint8_t* b, float* y, int64_t nBlocks) { dequantQ45<true, false>(b, y, nBlocks); }

// Q5_1 block (24 bytes): f16 d; f16 m; u8 qh[4]; u8 qs[16]; value = q * d + m.
void dequantQ5_1(const uint8_t* b, float* y, int64_t nBlocks) { dequantQ45<true, true>(b, y, nBlocks); }

// Q8_0 block (34 bytes): f16 d; i8 qs[32]; value = q * d.
void dequantQ8_0(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 34, y += kQK) {
    const float d = h2f(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
  }
}

}  // namespace duo::dequant_blocks
