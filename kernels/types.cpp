// SPDX-License-Identifier: GPL-3.0-or-later
#include "kernels/types.h"

#include <algorithm>
#include <cmath>

namespace duo::kernels {

std::size_t valueBytes(ValueType t) {
  switch (t) {
    case ValueType::F32: return 4;
    case ValueType::F16:
    case ValueType::BF16: return 2;
    case ValueType::I8: return 1;
  }
  return 4;
}

const char* valueTypeName(ValueType t) {
  switch (t) {
    case ValueType::F32: return "f32";
    case ValueType::F16: return "f16";
    case ValueType::BF16: return "bf16";
    case ValueType::I8: return "int8";
  }
  return "?";
}

ValueType parseValueType(const std::string& name) {
  if (name == "f32" || name == "float32") return ValueType::F32;
  if (name == "f16" || name == "float16" || name == "fp16") return ValueType::F16;
  if (name == "bf16" || name == "bfloat16") return ValueType::BF16;
  if (name == "int8" || name == "i8") return ValueType::I8;
  fail("value type: expected f32, f16, bf16 or int8, got '", name, "'");
}

const char* layoutName(Layout l) { return l == Layout::RowMajor ? "row-major" : "col-major"; }

float halfToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0x1f) {  // inf / NaN
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {  // normal
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal: renormalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | ((112u - static_cast<std::uint32_t>(e)) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint16_t floatToHalf(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u)  // inf or NaN (keep NaN quiet and non-zero)
    return static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (absx < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    if (absx < 0x33000000u) return sign;  // < 2^-25: rounds to zero
    const std::uint32_t e = absx >> 23;
    const std::uint32_t m = (absx & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // so that the result counts units of 2^-24
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  // normal: rebias exponent, round mantissa from 23 to 10 bits (carry may bump the exponent)
  std::uint32_t r = ((absx >> 13) - (112u << 10));
  const std::uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<std::uint16_t>(sign | r);
}

std::uint16_t floatToBf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  const std::uint32_t lsb = (x >> 16) & 1u;
  x += 0x7fffu + lsb;
  return static_cast<std::uint16_t>(x >> 16);
}

float roundTo(ValueType t, float f) {
  switch (t) {
    case ValueType::F32: return f;
    case ValueType::F16: return halfToFloat(floatToHalf(f));
    case ValueType::BF16: return bf16ToFloat(floatToBf16(f));
    case ValueType::I8: return static_cast<float>(quantizeInt8(f, 1.0f));
  }
  return f;
}

float int8RowScale(const float* row, std::int64_t n, std::int64_t stride) {
  float mx = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, std::fabs(row[i * stride]));
  return mx > 0.0f ? mx / 127.0f : 1.0f;
}

std::int8_t quantizeInt8(float w, float scale) {
  const float q = std::nearbyint(w / scale);
  if (std::isnan(q)) return 0;
  return static_cast<std::int8_t>(q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q));
}

void quantizeInputBlocks(const float* x, std::int64_t n, std::int8_t* q, float* scale) {
  for (std::int64_t b = 0; b < inputBlocks(n); ++b) {
    const std::int64_t j0 = b * kInputBlock, len = std::min<std::int64_t>(kInputBlock, n - j0);
    const float s = int8RowScale(x + j0, len);
    scale[b] = s;
    for (std::int64_t i = 0; i < kInputBlock; ++i) q[j0 + i] = i < len ? quantizeInt8(x[j0 + i], s) : 0;
  }
}

void storeValue(void* values, ValueType t, std::size_t i, float v) {
  switch (t) {
    case ValueType::F32: static_cast<float*>(values)[i] = v; break;
    case ValueType::F16: static_cast<std::uint16_t*>(values)[i] = floatToHalf(v); break;
    case ValueType::BF16: static_cast<std::uint16_t*>(values)[i] = floatToBf16(v); break;
    case ValueType::I8: static_cast<std::int8_t*>(values)[i] = quantizeInt8(v, 1.0f); break;
  }
}

double normalisedError(const float* y, const float* ref, std::size_t n) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(y[i]) - static_cast<double>(ref[i]);
    diff += d * d;
    norm += static_cast<double>(ref[i]) * ref[i];
    if (std::isnan(y[i])) return std::nan("");
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

}  // namespace duo::kernels
