// SPDX-License-Identifier: GPL-3.0-or-later
#include "kernels/nm_sparse.h"

#include "kernels/sparse_columns.h"  // kValuePad

namespace duo::kernels {

namespace {
bool validM(int m) { return m == 2 || m == 4 || m == 8 || m == 16; }
std::int64_t maskRowBytesFor(std::int64_t cols) { return (cols + 63) / 64 * 8; }
}  // namespace

void checkView(const NmView& w, const char* who) {
  DUO_CHECK(w.rows >= 1 && w.cols >= 1, who, ": expected a matrix of at least 1x1, got [", w.rows, ", ", w.cols,
            "]");
  DUO_CHECK(validM(w.m) && w.n >= 1 && w.n <= w.m, who, ": N:M needs M in {2, 4, 8, 16} and 1 <= N <= M, got ",
            w.n, ":", w.m);
  DUO_CHECK(w.cols % w.m == 0, who, ": ", w.cols, " columns are not a whole number of groups of ", w.m);
  DUO_CHECK(w.maskRowBytes == maskRowBytesFor(w.cols), who, ": mask rows of ", w.cols, " columns take ",
            maskRowBytesFor(w.cols), " bytes, view says ", w.maskRowBytes);
  DUO_CHECK(w.values != nullptr && w.mask != nullptr, who, ": values or mask pointer is null");
  DUO_CHECK(w.type != ValueType::I8 || w.rowScale != nullptr, who, ": an int8 [", w.rows, ", ", w.cols,
            "] matrix needs its row scales, the pointer is null");
}

bool isNmSparse(const float* w, std::int64_t rows, std::int64_t cols, int n, int m) {
  if (m <= 0 || cols % m != 0) return false;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t g = 0; g < cols; g += m) {
      int kept = 0;
      for (int i = 0; i < m; ++i) kept += w[r * cols + g + i] != 0.0f;
      if (kept > n) return false;
    }
  return true;
}

NmMatrix NmMatrix::pack(const float* w, std::int64_t rows, std::int64_t cols, int n, int m, ValueType type) {
  DUO_CHECK(w != nullptr, "NmMatrix::pack: source pointer is null");
  DUO_CHECK(rows >= 1 && cols >= 1, "NmMatrix::pack: expected at least 1x1, got [", rows, ", ", cols, "]");
  DUO_CHECK(validM(m) && n >= 1 && n <= m, "NmMatrix::pack: N:M needs M in {2, 4, 8, 16} and 1 <= N <= M, got ", n,
            ":", m);
  DUO_CHECK(cols % m == 0, "NmMatrix::pack: ", cols, " columns are not a whole number of groups of ", m);
  NmMatrix out;
  NmView& v = out.m_view;
  v.rows = rows;
  v.cols = cols;
  v.n = n;
  v.m = m;
  v.type = type;
  v.maskRowBytes = maskRowBytesFor(cols);
  out.m_values.resize(static_cast<std::size_t>(rows * v.valuesPerRow() + kValuePad) * kernels::valueBytes(type));
  out.m_mask.resize(static_cast<std::size_t>(rows * v.maskRowBytes));
  void* values = out.m_values.data();
  std::uint8_t* mask = out.m_mask.as<std::uint8_t>();
  float* scales = nullptr;  // [rows] f32, I8 only
  if (type == ValueType::I8) {
    out.m_scales.resize(static_cast<std::size_t>(rows) * sizeof(float));
    scales = out.m_scales.as<float>();
  }
  std::size_t at = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (scales != nullptr) scales[r] = int8RowScale(w + r * cols, cols);
    std::uint8_t* maskRow = mask + r * v.maskRowBytes;
    for (std::int64_t g = 0; g < cols; g += m) {
      const float* grp = w + r * cols + g;
      int kept = 0;
      for (int i = 0; i < m; ++i) kept += grp[i] != 0.0f;
      DUO_CHECK(kept <= n, "NmMatrix::pack: row ", r, " columns [", g, ", ", g + m, ") hold ", kept,
                " non-zeros, ", n, ":", m, " allows ", n);
      // Keep every non-zero, then fill up to n slots with the group's first zeros.
      int zerosToKeep = n - kept;
      for (int i = 0; i < m; ++i) {
        if (grp[i] == 0.0f) {
          if (zerosToKeep == 0) continue;
          --zerosToKeep;
        }
        const std::int64_t c = g + i;
        maskRow[c / 8] |= static_cast<std::uint8_t>(1u << (c % 8));
        if (scales != nullptr)
          static_cast<std::int8_t*>(values)[at++] = quantizeInt8(grp[i], scales[r]);
        else
          storeValue(values, type, at++, grp[i]);
      }
    }
  }
  out.rebindView();
  return out;
}

void NmMatrix::toRowMajor(float* out) const {
  const NmView& v = m_view;
  std::size_t at = 0;
  for (std::int64_t r = 0; r < v.rows; ++r) {
    const std::uint8_t* maskRow = v.mask + r * v.maskRowBytes;
    for (std::int64_t c = 0; c < v.cols; ++c)
      out[r * v.cols + c] = (maskRow[c / 8] >> (c % 8)) & 1u
                                ? loadValue(v.values, v.type, at++) * (v.rowScale != nullptr ? v.rowScale[r] : 1.0f)
                                : 0.0f;
  }
}

std::uint64_t NmMatrix::valueBytes() const {
  return static_cast<std::uint64_t>(m_view.rows * m_view.valuesPerRow()) * kernels::valueBytes(m_view.type) +
         (m_view.type == ValueType::I8 ? static_cast<std::uint64_t>(m_view.rows) * sizeof(float) : 0u);
}

void NmMatrix::rebindView() {
  m_view.values = m_values.data();
  m_view.mask = m_mask.as<std::uint8_t>();
  m_view.rowScale = m_view.type == ValueType::I8 ? m_scales.as<float>() : nullptr;
}

NmMatrix& NmMatrix::operator=(const NmMatrix& o) {
  if (this == &o) return *this;
  m_view = o.m_view;
  m_values = o.m_values;
  m_mask = o.m_mask;
  m_scales = o.m_scales;
  rebindView();
  return *this;
}

NmMatrix& NmMatrix::operator=(NmMatrix&& o) noexcept {
  m_view = o.m_view;
  m_values = std::move(o.m_values);
  m_mask = std::move(o.m_mask);
  m_scales = std::move(o.m_scales);
  rebindView();
  o.m_view = NmView{};
  return *this;
}

}  // namespace duo::kernels
