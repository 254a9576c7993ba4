// SPDX-License-Identifier: GPL-3.0-or-later
// N:M semi-structured sparse weights W [rows, cols]: in every row, each group of M consecutive
// columns keeps exactly N weights (2:4 is the NVIDIA sparse-tensor-core pattern; the pruner makes
// such masks per row over the input dimension). Row-major, because the groups run along a row:
//   - values: per row, cols / M * N kept values, group after group, in column order;
//   - mask:   per row, one bit per column (bit c % 8 of byte c / 8), exactly N set per group.
// Every group holds exactly N slots, so a 16-column chunk's values start at a fixed offset
// (c * N / M) and no per-row offsets are needed. Because the layout is row-major, a zero activation
// saves no bytes here: the dual-sparse product on N:M runs at weight-sparse speed (use the
// column-packed format, which takes any mask including N:M, to skip activations).
#pragma once
#include <cstdint>

#include "kernels/aligned_buffer.h"
#include "kernels/types.h"

namespace duo::kernels {

struct NmView {
  std::int64_t rows = 0, cols = 0;  // cols is a multiple of m
  int n = 0, m = 0;                 // keep n of every m; m in {2, 4, 8, 16}, 1 <= n <= m
  ValueType type = ValueType::F32;
  std::int64_t maskRowBytes = 0;    // ceil(cols / 8) rounded up to a multiple of 8
  const void* values = nullptr;     // [rows, cols / m * n] (+ kValuePad) of `type`
  const std::uint8_t* mask = nullptr;  // [rows, maskRowBytes]
  const float* rowScale = nullptr;     // [rows] f32, I8 only: weight = stored q * rowScale[row]

  std::int64_t valuesPerRow() const { return cols / m * n; }
};

// Throws duo::Error naming `who` when the view is malformed.
void checkView(const NmView& w, const char* who);

class NmMatrix {
 public:
  NmMatrix() = default;
  // Packs w [rows, cols] row-major f32 whose every group of m columns has at most n non-zeros
  // (throws duo::Error naming the first row and group with more). A group with fewer non-zeros
  // keeps zero-valued slots, so unpacking gives back exactly roundTo(type, w).
  static NmMatrix pack(const float* w, std::int64_t rows, std::int64_t cols, int n, int m,
                       ValueType type = ValueType::F32);
  void toRowMajor(float* out) const;  // out [rows, cols] row-major f32

  const NmView& view() const { return m_view; }
  std::uint64_t valueBytes() const;
  std::uint64_t maskBytes() const { return static_cast<std::uint64_t>(m_view.rows * m_view.maskRowBytes); }
  std::int64_t rows() const { return m_view.rows; }
  std::int64_t cols() const { return m_view.cols; }

  NmMatrix(const NmMatrix& o) { *this = o; }
  NmMatrix& operator=(const NmMatrix& o);
  NmMatrix(NmMatrix&& o) noexcept { *this = std::move(o); }
  NmMatrix& operator=(NmMatrix&& o) noexcept;

 private:
  void rebindView();
  NmView m_view;
  AlignedBuffer m_values;  // [rows * valuesPerRow + kValuePad] of type
  AlignedBuffer m_mask;    // [rows, maskRowBytes] u8
  AlignedBuffer m_scales;  // [rows] f32 (I8 only)
};

// True when w [rows, cols] has at most n non-zeros in every group of m columns of every row.
bool isNmSparse(const float* w, std::int64_t rows, std::int64_t cols, int n, int m);

}  // namespace duo::kernels
