// SPDX-License-Identifier: GPL-3.0-or-later
// The statistics' element-wise pass on raw f32 rows (torch-free; input_stats.h): the residual
// dX = Xd - Xs, its column sums of squares (a_j) and the products' operands, in one pass over the
// inputs instead of four or five.
#pragma once
#include <cstdint>

namespace duo {

// For rows [0, rows) of xs, xd [rows, k]: colSq[j] += sum over the rows of (xd - xs)^2 (in f64),
// and either dx = xd - xs (f32, bf16Out false) or s16 = bf16(xs) and dx16 = bf16(xd - xs) (bf16 bit
// patterns, round to nearest even as LibTorch rounds; bf16Out true, dx then unused).
void residualRows(const float* xs, const float* xd, std::int64_t rows, std::int64_t k, double* colSq, float* dx);
void residualRowsBf16(const float* xs, const float* xd, std::int64_t rows, std::int64_t k, double* colSq,
                      std::uint16_t* s16, std::uint16_t* dx16);

}  // namespace duo
