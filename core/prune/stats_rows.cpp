// SPDX-License-Identifier: GPL-3.0-or-later
// Built at -O3 -fno-trapping-math with an AVX2 clone (core/CMakeLists.txt), as topk_rows.cpp.
#include "core/prune/stats_rows.h"

#include <cstring>

#include "core/common/clones.h"

namespace duo {

namespace {

// f32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN (c10::BFloat16's rounding).
inline std::uint16_t bf16Bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  return static_cast<std::uint16_t>(nan ? 0x7fc0u : rounded);
}

}  // namespace

DUO_CLONES void residualRows(const float* xs, const float* xd, std::int64_t rows, std::int64_t k, double* colSq,
                             float* dx) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* s = xs + r * k;
    const float* d = xd + r * k;
    float* o = dx + r * k;
#pragma omp simd
    for (std::int64_t j = 0; j < k; ++j) {
      const float v = d[j] - s[j];
      o[j] = v;
      colSq[j] += static_cast<double>(v) * v;
    }
  }
}

DUO_CLONES void residualRowsBf16(const float* xs, const float* xd, std::int64_t rows, std::int64_t k, double* colSq,
                                 std::uint16_t* s16, std::uint16_t* dx16) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* s = xs + r * k;
    const float* d = xd + r * k;
#pragma omp simd
    for (std::int64_t j = 0; j < k; ++j) {
      const float v = d[j] - s[j];
      colSq[j] += static_cast<double>(v) * v;
      s16[r * k + j] = bf16Bits(s[j]);
      dx16[r * k + j] = bf16Bits(v);
    }
  }
}

}  // namespace duo
