// Value storage types, layouts and the checks shared by every kernel backend. Torch-free, Qt-free:
// kernels/ depends on nothing but the standard library (it uses only the header-only part of
// core/common/error.h, so that every layer throws the one duo::Error type).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/common/error.h"

namespace duo::kernels {

// Storage type of matrix values. Every kernel accumulates in f32 whatever the storage.
enum class ValueType : std::uint8_t { F32, F16, BF16 };

// Row-major: element (r, c) at r * ld + c. Column-major: at c * ld + r.
enum class Layout : std::uint8_t { RowMajor, ColMajor };

// Largest batch (number of input vectors) the mat-vec kernels take in one call.
constexpr int kMaxBatch = 8;

std::size_t valueBytes(ValueType t);
const char* valueTypeName(ValueType t);      // "f32", "f16", "bf16"
ValueType parseValueType(const std::string& name);  // throws duo::Error on an unknown name
const char* layoutName(Layout l);            // "row-major", "col-major"

// IEEE binary16 and bfloat16 conversions, round to nearest even; NaN stays NaN.
float halfToFloat(std::uint16_t h);
std::uint16_t floatToHalf(float f);
inline float bf16ToFloat(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
std::uint16_t floatToBf16(float f);

// What storage type t makes of f (identity for F32): the value a kernel will actually multiply.
float roundTo(ValueType t, float f);

// Element i of a values array stored as t.
inline float loadValue(const void* values, ValueType t, std::size_t i) {
  switch (t) {
    case ValueType::F32: return static_cast<const float*>(values)[i];
    case ValueType::F16: return halfToFloat(static_cast<const std::uint16_t*>(values)[i]);
    case ValueType::BF16: return bf16ToFloat(static_cast<const std::uint16_t*>(values)[i]);
  }
  return 0.0f;
}
void storeValue(void* values, ValueType t, std::size_t i, float v);

// Normalised error ||y - ref||_2 / ||ref||_2 over n floats; when ref is all zero, ||y||_2 itself.
// NaN anywhere in y gives NaN (so a poisoned, unwritten output never passes a `err <= tol` check).
double normalisedError(const float* y, const float* ref, std::size_t n);

}  // namespace duo::kernels
