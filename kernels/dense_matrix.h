// SPDX-License-Identifier: GPL-3.0-or-later
// Dense weight matrices W [rows, cols] (y = W x): row-major (the BLAS baseline and the dense GEMV)
// and column-major (the activation-sparse GEMV: a zero input x_j skips the contiguous column j).
#pragma once
#include <cstdint>

#include "kernels/aligned_buffer.h"
#include "kernels/types.h"

namespace duo::kernels {

// Non-owning view; the pointer may be host or device memory (the CUDA kernels take device views).
struct DenseView {
  const void* values = nullptr;  // row-major [rows, ld] or col-major [cols, ld], of `type`
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t ld = 0;  // elements between row starts (row-major) or column starts (col-major)
  Layout layout = Layout::RowMajor;
  ValueType type = ValueType::F32;
  const float* rowScale = nullptr;  // [rows] f32, I8 only: weight (r, c) = stored q * rowScale[r]
  // I8 only: the products round x to int8 in blocks of kInputBlock (quantizeInputBlocks) and add up
  // integer products, block by block (llama.cpp's Q8_0 x Q8_0); the CPU kernels, batch row by row.
  bool int8Inputs = false;

  // A view of an existing row-major f32 array w [rows, cols] (no copy).
  static DenseView rowMajorF32(const float* w, std::int64_t rows, std::int64_t cols) {
    return DenseView{w, rows, cols, cols, Layout::RowMajor, ValueType::F32, nullptr};
  }
  // Element (r, c) as f32.
  float at(std::int64_t r, std::int64_t c) const {
    const std::size_t i = layout == Layout::RowMajor ? static_cast<std::size_t>(r * ld + c)
                                                     : static_cast<std::size_t>(c * ld + r);
    const float v = loadValue(values, type, i);
    return type == ValueType::I8 ? v * rowScale[r] : v;
  }
  // Bytes of the values a full product reads (ld padding excluded; I8 adds its row scales).
  std::uint64_t valueBytesRead() const {
    return static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols) * valueBytes(type) +
           (type == ValueType::I8 ? static_cast<std::uint64_t>(rows) * sizeof(float) : 0u);
  }
};

// Throws duo::Error naming `who` when the view is malformed (null values, ld too small, sizes < 1).
void checkView(const DenseView& w, const char* who);

// Owning dense matrix in one layout and storage type (values rounded to that type).
class DenseMatrix {
 public:
  DenseMatrix() = default;
  // Copies w [rows, cols] row-major f32 into `layout`, rounding values to `type` (I8: each row
  // quantised with its own scale, int8RowScale).
  static DenseMatrix fromRowMajor(const float* w, std::int64_t rows, std::int64_t cols, Layout layout,
                                  ValueType type = ValueType::F32);
  // Writes the matrix back as out [rows, cols] row-major f32 (exact: values as stored).
  void toRowMajor(float* out) const;

  DenseView view() const {
    return DenseView{m_values.data(), m_rows, m_cols, m_ld, m_layout, m_type,
                     m_type == ValueType::I8 ? m_scales.as<float>() : nullptr};
  }
  std::int64_t rows() const { return m_rows; }
  std::int64_t cols() const { return m_cols; }
  Layout layout() const { return m_layout; }
  ValueType type() const { return m_type; }
  std::size_t bytes() const { return m_values.size() + m_scales.size(); }
  const void* data() const { return m_values.data(); }

 private:
  AlignedBuffer m_values;  // [rows, cols] or [cols, rows] of m_type
  AlignedBuffer m_scales;  // [rows] f32 (I8 only)
  std::int64_t m_rows = 0, m_cols = 0, m_ld = 0;
  Layout m_layout = Layout::RowMajor;
  ValueType m_type = ValueType::F32;
};

}  // namespace duo::kernels
