// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/dequant.h"

#include <cstring>
#include <limits>
#include <string>

#include "core/common/error.h"
#include "core/model/io/dequant_blocks.h"

namespace duo {

using namespace dequant_blocks;  // block sizes, loadU16, halfTable and the per-type decoders

namespace {

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
