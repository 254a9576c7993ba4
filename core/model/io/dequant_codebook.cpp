// SPDX-License-Identifier: GPL-3.0-or-later
// GGML's codebook ("grid") types: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M.
// Each index selects a codeword of 8 (or 4) magnitudes from a fixed lattice (iq_grids.inc); signs
// come as 8 explicit bits per 8 values, or as a 7-bit index whose 8th sign makes the count of
// minus signs even (signBits).
#include <cstdint>

#include "core/model/io/dequant_blocks.h"

namespace duo::dequant_blocks {

namespace {

#include "core/model/io/iq_grids.inc"

// 7-bit sign index -> 8 sign bits: the index plus a top bit that gives an even number of ones.
uint8_t signBits(uint32_t index7) {
  const uint32_t i = index7 & 127u;
  return static_cast<uint8_t>(i | ((__builtin_popcount(i) & 1) << 7));
}

// Field k of `width` bits (1, 2 or 4) in bytes packed from the low bits up: bits
// width*k .. width*k + width - 1 of the little-endian bit string p.
uint32_t packedBits(const uint8_t* p, int k, int width) {
  return (p[k * width / 8] >> (k * width % 8)) & ((1u << width) - 1);
}

// Nibble j of p: the low nibble of p[j/2] for even j, the high nibble for odd j.
int nibble(const uint8_t* p, int j) { return static_cast<int>(packedBits(p, j, 4)); }

// The codeword index of row k: qs[k] below `highBits` bits taken from the packed qh.
uint32_t gridIndex(const uint8_t* qs, const uint8_t* qh, int k, int highBits) {
  return qs[k] | (packedBits(qh, k, highBits) << 8);
}

// An IQ2_S / IQ3_S super-block: f16 d at 0, u8 qs[] at 2 (codeword indices' low 8 bits), then
// u8 qh[] (their high bits), u8 signs[] and u8 scales[] (4-bit) at offsets that differ by type.
struct SBlock {
  float d;
  const uint8_t* qs;
  const uint8_t* qh;
  const uint8_t* signs;
  const uint8_t* scales;
};
SBlock sBlock(const uint8_t* b, int qhAt, int signsAt, int scalesAt) {
  return {h2f(b), b + 2, b + qhAt, b + signsAt, b + scalesAt};
}

uint8_t gridByte(uint64_t row, int k) { return static_cast<uint8_t>(row >> (8 * k)); }

// 8 values of codeword `row` times db, negated where bit k of `signs` is set.
void put8(float* y, uint64_t row, uint8_t signs, float db) {
  for (int k = 0; k < 8; ++k)
    y[k] = db * static_cast<float>(gridByte(row, k)) * ((signs >> k) & 1 ? -1.0f : 1.0f);
}

// 4 values of a 4-wide codeword times db, negated where bit (k + shift) of `signs` is set.
void put4(float* y, uint32_t row, uint8_t signs, int shift, float db) {
  for (int k = 0; k < 4; ++k)
    y[k] = db * static_cast<float>(static_cast<uint8_t>(row >> (8 * k))) * ((signs >> (k + shift)) & 1 ? -1.0f : 1.0f);
}

// One IQ1 codeword: values in {-1, 0, 1} (int8 bytes of kIq1sGrid), value = dl * (v + delta).
void put8Iq1(float* y, uint64_t row, float dl, float delta) {
  for (int k = 0; k < 8; ++k) y[k] = dl * (static_cast<float>(static_cast<int8_t>(gridByte(row, k))) + delta);
}

constexpr float kIq1Delta = 0.125f;

}  // namespace

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
      const float db = d * (0.5f + static_cast<float>(nibble(scales, k / 2))) * 0.25f;
      put8(y, kIq2xsGrid[q & 511], signBits(q >> 9), db);
    }
  }
}

// IQ2_S super-block (82 bytes): f16 d; u8 qs[32]; u8 signs[32]; u8 qh[8]; u8 scales[8]. Row k
// indexes kIq2sGrid with qs[k] | ((qh[k/4] >> 2(k%4)) & 3) << 8; its 8 signs are the bits of
// signs[k]; scale nibble j covers rows 2j, 2j+1 as in IQ2_XS.
void dequantIQ2_S(const uint8_t* b, float* y, int64_t nBlocks) {
  for (int64_t i = 0; i < nBlocks; ++i, b += 82) {
    const SBlock s = sBlock(b, 66, 34, 74);
    for (int k = 0; k < 32; ++k, y += 8) {
      const float db = s.d * (0.5f + static_cast<float>(nibble(s.scales, k / 2))) * 0.25f;
      put8(y, kIq2sGrid[gridIndex(s.qs, s.qh, k, 2)], s.signs[k], db);
    }
  }
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
    const SBlock s = sBlock(b, 66, 74, 106);
    for (int k = 0; k < 64; ++k, y += 4) {
      const float db = s.d * static_cast<float>(1 + 2 * nibble(s.scales, k / 8));
      put4(y, kIq3sGrid[gridIndex(s.qs, s.qh, k, 1)], s.signs[k / 2], 4 * (k % 2), db);
    }
  }
}

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
      const int nib = nibble(qh, k);
      const float delta = (nib & 8) ? -kIq1Delta : kIq1Delta;
      put8Iq1(y, kIq1sGrid[qs[k] | ((nib & 7) << 8)], dl, delta);
    }
  }
}

}  // namespace duo::dequant_blocks
