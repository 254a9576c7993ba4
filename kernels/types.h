// SPDX-License-Identifier: GPL-3.0-or-later
// Value storage types, layouts and the checks shared by every kernel backend. Torch-free, Qt-free:
// kernels/ depends on nothing but the standard library and kernels/base (the one duo::Error type
// every layer throws).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/base/error.h"

namespace duo::kernels {

// Storage type of matrix values. Every kernel accumulates in f32 whatever the storage.
// I8 is symmetric int8 with one f32 scale per output row: weight (r, c) = q(r, c) * rowScale[r],
// q in [-127, 127]; views of I8 matrices carry the rowScale array (see int8RowScale).
enum class ValueType : std::uint8_t { F32, F16, BF16, I8 };

// Row-major: element (r, c) at r * ld + c. Column-major: at c * ld + r.
enum class Layout : std::uint8_t { RowMajor, ColMajor };

// Largest batch (number of input vectors) the mat-vec kernels take in one call.
constexpr int kMaxBatch = 8;

std::size_t valueBytes(ValueType t);
const char* valueTypeName(ValueType t);      // "f32", "f16", "bf16", "int8"
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
// For I8, f is in units of its row's scale and the result is the stored integer q.
float roundTo(ValueType t, float f);

// The I8 scale of one row of n weights (every `stride`-th float from row): max |w| / 127, or 1 when
// the row is all zero, so that the largest weight is stored as +-127 and a zero stays exactly zero.
float int8RowScale(const float* row, std::int64_t n, std::int64_t stride = 1);
// q = round(w / scale) clamped to [-127, 127] (a NaN weight is refused by the callers' checks).
std::int8_t quantizeInt8(float w, float scale);

// Int8 inputs (DenseView::int8Inputs): an input vector rounded to int8 in blocks of kInputBlock
// consecutive elements, each block with its own scale, as llama.cpp's Q8_0 does: block i's scale
// is int8RowScale of its elements and q = quantizeInt8(x, scale). Fills q [inputBlocks(n) *
// kInputBlock] (the last block's padding zero) and scale [inputBlocks(n)].
constexpr int kInputBlock = 32;
inline std::int64_t inputBlocks(std::int64_t n) { return (n + kInputBlock - 1) / kInputBlock; }
void quantizeInputBlocks(const float* x, std::int64_t n, std::int8_t* q, float* scale);

// Element i of a values array stored as t (for I8: the integer q, before its row's scale).
inline float loadValue(const void* values, ValueType t, std::size_t i) {
  switch (t) {
    case ValueType::F32: return static_cast<const float*>(values)[i];
    case ValueType::F16: return halfToFloat(static_cast<const std::uint16_t*>(values)[i]);
    case ValueType::BF16: return bf16ToFloat(static_cast<const std::uint16_t*>(values)[i]);
    case ValueType::I8: return static_cast<float>(static_cast<const std::int8_t*>(values)[i]);
  }
  return 0.0f;
}
// Stores v as t (for I8: v is in units of the row's scale, rounded and clamped to [-127, 127]).
void storeValue(void* values, ValueType t, std::size_t i, float v);

// Normalised error ||y - ref||_2 / ||ref||_2 over n floats; when ref is all zero, ||y||_2 itself.
// NaN anywhere in y gives NaN (so a poisoned, unwritten output never passes a `err <= tol` check).
double normalisedError(const float* y, const float* ref, std::size_t n);

}  // namespace duo::kernels
