// SPDX-License-Identifier: GPL-3.0-or-later
// compressed-tensors' `sparse-bitmask` layout of one 2-D weight [rows, cols], stored as four
// safetensors tensors beside each other (the weight's name without ".weight", then a suffix):
//   <prefix>.shape        I64 [2]                  rows, cols
//   <prefix>.compressed   the weight's dtype [nnz]  its non-zero values in row-major order
//   <prefix>.bitmask      U8 [rows, ceil(cols/8)]  bit (j % 8) of byte j / 8 set where column j is
//                                                  non-zero (numpy.packbits, bitorder "little")
//   <prefix>.row_offsets  I64 [rows]               index in `compressed` of each row's first value
// A value is "zero" as compressed-tensors tests it (tensor != 0): +0 and -0 alike. Torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace duo {

inline constexpr const char* kBitmaskShape = "shape";
inline constexpr const char* kBitmaskValues = "compressed";
inline constexpr const char* kBitmaskMask = "bitmask";
inline constexpr const char* kBitmaskRowOffsets = "row_offsets";

inline int64_t bitmaskRowBytes(int64_t cols) { return (cols + 7) / 8; }

struct BitmaskEncoded {
  std::vector<uint8_t> values;      // [nnz * elemBytes]
  std::vector<uint8_t> mask;        // [rows * bitmaskRowBytes(cols)]
  std::vector<int64_t> rowOffsets;  // [rows]
  int64_t nnz = 0;
};

// Encodes a row-major [rows, cols] array of floats `elemBytes` wide (2: F16/BF16, 4: F32).
BitmaskEncoded bitmaskEncode(const void* data, int64_t rows, int64_t cols, int elemBytes);

// Decodes into dst [rows * cols * elemBytes] (every element written). Checks that each row's set
// bits agree with row_offsets and that they add up to nnz; throws duo::Error "<what>: <fault>".
void bitmaskDecode(const void* values, int64_t nnz, const uint8_t* mask, const int64_t* rowOffsets, int64_t rows,
                   int64_t cols, int elemBytes, void* dst, const std::string& what);

}  // namespace duo
