// SPDX-License-Identifier: GPL-3.0-or-later
// Shared pieces of the GGML block decoders behind dequantize() (dequant.h): block sizes, unaligned
// little-endian loads, the f16 scale lookup, and one decoder per dequantisable block type. Each
// decoder turns nBlocks whole blocks at `b` (unaligned bytes) into y [nBlocks * block elements] f32;
// its block layout is described next to its definition. Internal header (torch-free).
#pragma once
#include <array>
#include <cstdint>
#include <cstring>

#include "core/model/io/dequant.h"

namespace duo::dequant_blocks {

constexpr int64_t kQK = 32;    // elements per block of the 32-wide formats (Q4_0 .. Q8_0, IQ4_NL)
constexpr int64_t kQKK = 256;  // elements per super-block of the K formats
constexpr int kKScaleBytes = 12;  // packed six-bit scales and mins of a Q4_K/Q5_K super-block

// Little-endian u16/u32 at p, which may be unaligned (inside a mapped file).
inline uint16_t loadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// 65536-entry half -> float table, built once (thread-safe static init; one table per program).
inline const std::array<float, 65536>& halfTable() {
  static const std::array<float, 65536> table = [] {
    std::array<float, 65536> t{};
    for (uint32_t i = 0; i < 65536; ++i) t[i] = halfToFloat(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

inline uint32_t loadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The f16 at p as a float.
inline float h2f(const uint8_t* p) { return halfTable()[loadU16(p)]; }

// dequant_q32.cpp: 32-element blocks with one f16 scale (and an f16 min for the _1 types).
void dequantQ4_0(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ4_1(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ5_0(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ5_1(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ8_0(const uint8_t* b, float* y, int64_t nBlocks);

// dequant_kquants.cpp: 256-element super-blocks of 16- or 32-element sub-blocks with packed scales.
void dequantQ2_K(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ3_K(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ4_K(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ5_K(const uint8_t* b, float* y, int64_t nBlocks);
void dequantQ6_K(const uint8_t* b, float* y, int64_t nBlocks);

// dequant_levels.cpp: each code selects one value of a small fixed level set: IQ4's 16 non-linear
// levels, ternary digits {-1, 0, 1}, FP4 (E2M1) values.
void dequantIQ4_NL(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ4_XS(const uint8_t* b, float* y, int64_t nBlocks);
void dequantTQ1_0(const uint8_t* b, float* y, int64_t nBlocks);
void dequantTQ2_0(const uint8_t* b, float* y, int64_t nBlocks);
void dequantMXFP4(const uint8_t* b, float* y, int64_t nBlocks);
void dequantNVFP4(const uint8_t* b, float* y, int64_t nBlocks);

// dequant_codebook.cpp: each index selects a codeword of 8 (or 4) values from a fixed lattice
// (iq_grids.inc), with sign bits.
void dequantIQ2_XXS(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ2_XS(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ2_S(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ3_XXS(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ3_S(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ1_S(const uint8_t* b, float* y, int64_t nBlocks);
void dequantIQ1_M(const uint8_t* b, float* y, int64_t nBlocks);

}  // namespace duo::dequant_blocks
