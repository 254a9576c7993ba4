// GGML's 32-element block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: one f16 scale d per block (plus an
// f16 min m for the _1 types) over 4-, 5- or 8-bit codes; value = (q - offset) * d or q * d + m.
#include <cstdint>

#include "core/model/io/dequant_blocks.h"

namespace duo::dequant_blocks {

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

}  // namespace duo::dequant_blocks
