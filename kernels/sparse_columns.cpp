// SPDX-License-Identifier: GPL-3.0-or-later
#include "kernels/sparse_columns.h"

#include <vector>

namespace duo::kernels {

const char* indexKindName(IndexKind k) { return k == IndexKind::Bitmap ? "bitmap" : "u16"; }

namespace {
std::int64_t ceilDiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::int32_t bitmapBytesFor(int stripRows) { return static_cast<std::int32_t>(ceilDiv(stripRows, 64) * 8); }
}  // namespace

int autoStripRows(std::int64_t rows) {
  const std::int64_t strips = ceilDiv(rows, kMaxAutoStripRows);
  const std::int64_t stripRows = ceilDiv(ceilDiv(rows, strips), 16) * 16;
  return static_cast<int>(stripRows < 16 ? 16 : stripRows);
}

void checkView(const SparseColumnsView& w, const char* who) {
  DUO_CHECK(w.rows >= 1 && w.cols >= 1, who, ": expected a matrix of at least 1x1, got [", w.rows, ", ", w.cols,
            "]");
  DUO_CHECK(w.stripRows >= 16 && w.stripRows % 16 == 0, who, ": strip height must be a positive multiple of 16, got ",
            w.stripRows);
  DUO_CHECK(w.strips == ceilDiv(w.rows, w.stripRows), who, ": ", w.rows, " rows in strips of ", w.stripRows,
            " need ", ceilDiv(w.rows, w.stripRows), " strips, view says ", w.strips);
  DUO_CHECK(w.colStart != nullptr && w.values != nullptr, who, ": colStart or values pointer is null");
  DUO_CHECK(w.type != ValueType::I8 || w.rowScale != nullptr, who, ": an int8 [", w.rows, ", ", w.cols,
            "] matrix needs its row scales, the pointer is null");
  DUO_CHECK(!w.int8Inputs || w.type == ValueType::I8, who, ": int8 inputs need int8 weights, the [", w.rows, ", ",
            w.cols, "] matrix holds ", valueTypeName(w.type));
  if (w.index == IndexKind::Bitmap) {
    DUO_CHECK(w.bitmap != nullptr, who, ": bitmap pointer is null");
    DUO_CHECK(w.bitmapBytes == bitmapBytesFor(w.stripRows), who, ": bitmap of a ", w.stripRows,
              "-row strip must take ", bitmapBytesFor(w.stripRows), " bytes, view says ", w.bitmapBytes);
  } else {
    DUO_CHECK(w.rowIndex != nullptr || w.nnz == 0, who, ": row-index pointer is null");
    DUO_CHECK(w.stripRows <= 65536, who, ": u16 row indices need strips of <= 65536 rows, got ", w.stripRows);
  }
}

SparseBytes predictSparseBytes(std::int64_t rows, std::int64_t cols, std::int64_t nnz, IndexKind index,
                               ValueType type, int stripRows) {
  const std::int64_t strips = ceilDiv(rows, stripRows);
  SparseBytes b;
  b.values = static_cast<std::uint64_t>(nnz) * valueBytes(type);
  b.index = index == IndexKind::Bitmap
                ? static_cast<std::uint64_t>(strips * cols) * static_cast<std::uint64_t>(bitmapBytesFor(stripRows))
                : static_cast<std::uint64_t>(nnz) * 2u;
  b.offsets = static_cast<std::uint64_t>(strips * cols + 1) * 4u;
  b.scales = type == ValueType::I8 ? static_cast<std::uint64_t>(rows) * sizeof(float) : 0u;
  return b;
}

IndexKind chooseIndexKind(std::int64_t rows, std::int64_t cols, std::int64_t nnz, int stripRows) {
  const auto bm = predictSparseBytes(rows, cols, nnz, IndexKind::Bitmap, ValueType::F32, stripRows);
  const auto u16 = predictSparseBytes(rows, cols, nnz, IndexKind::RowU16, ValueType::F32, stripRows);
  return u16.index < bm.index && stripRows <= 65536 ? IndexKind::RowU16 : IndexKind::Bitmap;
}

SparseColumns SparseColumns::pack(const float* w, std::int64_t rows, std::int64_t cols, const PackOptions& opt) {
  DUO_CHECK(rows >= 1 && cols >= 1, "SparseColumns::pack: expected at least 1x1, got [", rows, ", ", cols, "]");
  DUO_CHECK(w != nullptr, "SparseColumns::pack: source pointer is null");
  DUO_CHECK(opt.stripRows == 0 || (opt.stripRows >= 16 && opt.stripRows % 16 == 0),
            "SparseColumns::pack: strip height must be 0 (automatic) or a positive multiple of 16, got ",
            opt.stripRows);
  const int stripRows = opt.stripRows ? opt.stripRows : autoStripRows(rows);
  const auto strips = static_cast<std::int32_t>(ceilDiv(rows, stripRows));

  // Pass 1: kept weights per record, row-major walk (sequential reads of w).
  std::vector<std::uint32_t> count(static_cast<std::size_t>(strips) * cols, 0);  // [strips * cols]
  std::int64_t nnz = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint32_t* c = count.data() + (r / stripRows) * cols;
    const float* row = w + r * cols;
    for (std::int64_t j = 0; j < cols; ++j)
      if (row[j] != 0.0f) {
        ++c[j];
        ++nnz;
      }
  }
  DUO_CHECK(nnz + kValuePad < (std::int64_t(1) << 32), "SparseColumns::pack: ", nnz,
            " kept weights exceed the u32 offsets of this format");

  IndexKind index = IndexKind::Bitmap;
  switch (opt.index) {
    case IndexChoice::Auto: index = chooseIndexKind(rows, cols, nnz, stripRows); break;
    case IndexChoice::Bitmap: index = IndexKind::Bitmap; break;
    case IndexChoice::RowU16:
      DUO_CHECK(stripRows <= 65536, "SparseColumns::pack: u16 row indices need strips of <= 65536 rows, got ",
                stripRows);
      index = IndexKind::RowU16;
      break;
  }

  SparseColumns m;
  SparseColumnsView& v = m.m_view;
  v.rows = rows;
  v.cols = cols;
  v.nnz = nnz;
  v.stripRows = stripRows;
  v.strips = strips;
  v.bitmapBytes = index == IndexKind::Bitmap ? bitmapBytesFor(stripRows) : 0;
  v.index = index;
  v.type = opt.type;

  const std::size_t records = static_cast<std::size_t>(strips) * cols;
  m.m_colStart.resize((records + 1) * sizeof(std::uint32_t));
  auto* colStart = m.m_colStart.as<std::uint32_t>();
  std::uint32_t acc = 0;
  for (std::size_t k = 0; k < records; ++k) {
    colStart[k] = acc;
    acc += count[k];
  }
  colStart[records] = acc;
  m.m_values.resize(static_cast<std::size_t>(nnz + kValuePad) * valueBytes(opt.type));
  if (index == IndexKind::Bitmap)
    m.m_bitmap.resize(records * static_cast<std::size_t>(v.bitmapBytes));
  else
    m.m_rowIndex.resize(static_cast<std::size_t>(nnz) * sizeof(std::uint16_t));

  float* scales = nullptr;  // [rows] f32, I8 only: over each row's kept weights
  if (opt.type == ValueType::I8) {
    m.m_scales.resize(static_cast<std::size_t>(rows) * sizeof(float));
    scales = m.m_scales.as<float>();
    for (std::int64_t r = 0; r < rows; ++r) scales[r] = int8RowScale(w + r * cols, cols);
  }

  // Pass 2: fill, strip by strip (strips are independent), rows in order so values stay row-sorted.
  void* values = m.m_values.data();
  std::uint8_t* bitmap = m.m_bitmap.as<std::uint8_t>();
  std::uint16_t* rowIndex = m.m_rowIndex.as<std::uint16_t>();
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int32_t s = 0; s < strips; ++s) {
    std::vector<std::uint32_t> cursor(colStart + static_cast<std::size_t>(s) * cols,
                                      colStart + static_cast<std::size_t>(s + 1) * cols);  // [cols]
    const std::int64_t r0 = static_cast<std::int64_t>(s) * stripRows;
    const std::int64_t r1 = r0 + stripRows < rows ? r0 + stripRows : rows;
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* row = w + r * cols;
      const auto local = static_cast<std::uint32_t>(r - r0);
      for (std::int64_t j = 0; j < cols; ++j) {
        if (row[j] == 0.0f) continue;
        const std::uint32_t at = cursor[static_cast<std::size_t>(j)]++;
        if (scales != nullptr)
          static_cast<std::int8_t*>(values)[at] = quantizeInt8(row[j], scales[r]);
        else
          storeValue(values, opt.type, at, row[j]);
        if (index == IndexKind::Bitmap)
          bitmap[(static_cast<std::size_t>(s) * cols + j) * v.bitmapBytes + local / 8] |=
              static_cast<std::uint8_t>(1u << (local % 8));
        else
          rowIndex[at] = static_cast<std::uint16_t>(local);
      }
    }
  }
  m.rebindView();
  return m;
}

void SparseColumns::rebindView() {
  m_view.colStart = m_colStart.as<std::uint32_t>();
  m_view.bitmap = m_view.index == IndexKind::Bitmap ? m_bitmap.as<std::uint8_t>() : nullptr;
  m_view.rowIndex = m_view.index == IndexKind::RowU16 ? m_rowIndex.as<std::uint16_t>() : nullptr;
  m_view.values = m_values.data();
  m_view.rowScale = m_view.type == ValueType::I8 ? m_scales.as<float>() : nullptr;
}

SparseColumns& SparseColumns::operator=(const SparseColumns& o) {
  if (this == &o) return *this;
  m_view = o.m_view;
  m_colStart = o.m_colStart;
  m_bitmap = o.m_bitmap;
  m_rowIndex = o.m_rowIndex;
  m_values = o.m_values;
  m_scales = o.m_scales;
  rebindView();
  return *this;
}

SparseColumns& SparseColumns::operator=(SparseColumns&& o) noexcept {
  m_view = o.m_view;
  m_colStart = std::move(o.m_colStart);
  m_bitmap = std::move(o.m_bitmap);
  m_rowIndex = std::move(o.m_rowIndex);
  m_values = std::move(o.m_values);
  m_scales = std::move(o.m_scales);
  rebindView();
  o.m_view = SparseColumnsView{};
  return *this;
}

SparseBytes SparseColumns::bytes() const {
  return predictSparseBytes(m_view.rows, m_view.cols, m_view.nnz, m_view.index, m_view.type, m_view.stripRows);
}

void SparseColumns::toRowMajor(float* out) const {
  const SparseColumnsView& v = m_view;
  auto scaled = [&v](std::uint32_t k, std::int64_t row) {
    const float q = loadValue(v.values, v.type, k);
    return v.type == ValueType::I8 ? q * v.rowScale[row] : q;
  };
  for (std::int64_t i = 0; i < v.rows * v.cols; ++i) out[i] = 0.0f;
  for (std::int32_t s = 0; s < v.strips; ++s) {
    const std::int64_t r0 = v.stripBegin(s);
    for (std::int64_t j = 0; j < v.cols; ++j) {
      const std::int64_t rec = v.record(s, j);
      std::uint32_t k = v.colStart[rec];
      if (v.index == IndexKind::Bitmap) {
        const std::uint8_t* bm = v.bitmap + rec * v.bitmapBytes;
        for (std::int64_t r = 0; r < v.stripRows; ++r)
          if (bm[r / 8] & (1u << (r % 8))) out[(r0 + r) * v.cols + j] = scaled(k++, r0 + r);
      } else {
        for (; k < v.colStart[rec + 1]; ++k) out[(r0 + v.rowIndex[k]) * v.cols + j] = scaled(k, r0 + v.rowIndex[k]);
      }
      DUO_CHECK(k == v.colStart[rec + 1], "SparseColumns: internal error: record (", s, ", ", j, ") bitmap and offsets disagree");
    }
  }
}

}  // namespace duo::kernels
