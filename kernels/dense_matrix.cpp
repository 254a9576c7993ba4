// SPDX-License-Identifier: GPL-3.0-or-later
#include "kernels/dense_matrix.h"

namespace duo::kernels {

void checkView(const DenseView& w, const char* who) {
  DUO_CHECK(w.rows >= 1 && w.cols >= 1, who, ": expected a matrix of at least 1x1, got [", w.rows, ", ",
            w.cols, "]");
  DUO_CHECK(w.values != nullptr, who, ": matrix values pointer is null");
  const std::int64_t inner = w.layout == Layout::RowMajor ? w.cols : w.rows;
  DUO_CHECK(w.ld >= inner, who, ": leading dimension of a ", layoutName(w.layout), " [", w.rows, ", ", w.cols,
            "] matrix must be >= ", inner, ", got ", w.ld);
  DUO_CHECK(w.type != ValueType::I8 || w.rowScale != nullptr, who, ": an int8 [", w.rows, ", ", w.cols,
            "] matrix needs its row scales, the pointer is null");
  DUO_CHECK(!w.int8Inputs || w.type == ValueType::I8, who, ": int8 inputs need int8 weights, the [", w.rows, ", ",
            w.cols, "] matrix holds ", valueTypeName(w.type));
}

DenseMatrix DenseMatrix::fromRowMajor(const float* w, std::int64_t rows, std::int64_t cols, Layout layout,
                                      ValueType type) {
  DUO_CHECK(rows >= 1 && cols >= 1, "DenseMatrix: expected at least 1x1, got [", rows, ", ", cols, "]");
  DUO_CHECK(w != nullptr, "DenseMatrix: source pointer is null");
  DenseMatrix m;
  m.m_rows = rows;
  m.m_cols = cols;
  m.m_layout = layout;
  m.m_type = type;
  m.m_ld = layout == Layout::RowMajor ? cols : rows;
  m.m_values.resize(static_cast<std::size_t>(rows * cols) * valueBytes(type));
  void* dst = m.m_values.data();
  float* scales = nullptr;
  if (type == ValueType::I8) {
    m.m_scales.resize(static_cast<std::size_t>(rows) * sizeof(float));
    scales = m.m_scales.as<float>();
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    if (scales != nullptr) scales[r] = int8RowScale(row, cols);
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::size_t i =
          layout == Layout::RowMajor ? static_cast<std::size_t>(r * cols + c) : static_cast<std::size_t>(c * rows + r);
      if (scales != nullptr)
        static_cast<std::int8_t*>(dst)[i] = quantizeInt8(row[c], scales[r]);
      else
        storeValue(dst, type, i, row[c]);
    }
  }
  return m;
}

void DenseMatrix::toRowMajor(float* out) const {
  const DenseView v = view();
  for (std::int64_t r = 0; r < m_rows; ++r)
    for (std::int64_t c = 0; c < m_cols; ++c) out[r * m_cols + c] = v.at(r, c);
}

}  // namespace duo::kernels
