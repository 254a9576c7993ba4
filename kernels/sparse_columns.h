// SPDX-License-Identifier: GPL-3.0-or-later
// Column-packed sparse weights W [rows, cols] for y = W x, built so that a zero input x_j skips all
// of column j's stored values (the dual-sparse spMspV) and a pruned weight costs no value bytes.
//
// The rows are cut into horizontal strips of `stripRows` rows (a strip's slice of y stays in L1/L2
// while a thread streams through it). Inside a strip, column after
// column, each (strip, column) "record" holds that column's kept values in row order plus where
// they sit, either as
//   - a bitmap: stripRows bits, bit (r % 8) of byte (r / 8) set when strip row r is kept, padded to
//     whole u64 words (cost: 1 bit per weight, dense or not), or
//   - u16 row indices: one per kept value (cost: 2 bytes per kept weight).
// The packer picks the smaller per matrix (the bitmap wins unless more than ~94% is pruned).
// Records are stored strip-major (strip 0's columns 0..cols-1, then strip 1's, ...). Threads split
// the list of records into contiguous stretches, so each streams forward through memory, and a
// skipped column is a skipped record: tall strips make records long (several KiB), which is what
// lets a skip save memory traffic (hardware prefetchers run on past short gaps).
#pragma once
#include <cstdint>

#include "kernels/aligned_buffer.h"
#include "kernels/types.h"

namespace duo::kernels {

enum class IndexKind : std::uint8_t { Bitmap, RowU16 };
const char* indexKindName(IndexKind k);  // "bitmap", "u16"

// Vector loads may read up to this many elements past a record's last value; packed value arrays
// carry this much zeroed padding at their end (64: the int8 kernels load 64 bytes at a time).
constexpr int kValuePad = 64;
// Strip height the automatic choice stays at or below (4096 f32 = 16 KiB of y per strip, in L1).
constexpr int kMaxAutoStripRows = 4096;

// Non-owning view (host or device pointers).
struct SparseColumnsView {
  std::int64_t rows = 0, cols = 0;
  std::int64_t nnz = 0;          // stored values (kept weights)
  std::int32_t stripRows = 0;    // rows per strip, a multiple of 16; the last strip may be shorter
  std::int32_t strips = 0;       // ceil(rows / stripRows)
  std::int32_t bitmapBytes = 0;  // bytes per record's bitmap: ceil(stripRows / 64) * 8 (Bitmap only)
  IndexKind index = IndexKind::Bitmap;
  ValueType type = ValueType::F32;
  const std::uint32_t* colStart = nullptr;  // [strips * cols + 1] index of record (s, j)'s first value
  const std::uint8_t* bitmap = nullptr;     // [strips * cols, bitmapBytes] (Bitmap only)
  const std::uint16_t* rowIndex = nullptr;  // [nnz] row within the strip per value (RowU16 only)
  const void* values = nullptr;             // [nnz + kValuePad] of `type`
  const float* rowScale = nullptr;          // [rows] f32, I8 only: weight = stored q * rowScale[row]
  // I8 only: the products round x to int8 in blocks (as DenseView::int8Inputs) and add up integer
  // products; the CPU kernels, batch row by row (the CUDA kernels refuse such views).
  bool int8Inputs = false;

  std::int64_t stripBegin(std::int32_t s) const { return static_cast<std::int64_t>(s) * stripRows; }
  std::int64_t stripEnd(std::int32_t s) const {
    const std::int64_t e = stripBegin(s) + stripRows;
    return e < rows ? e : rows;
  }
  std::int64_t record(std::int32_t s, std::int64_t j) const { return static_cast<std::int64_t>(s) * cols + j; }
};

// Throws duo::Error naming `who` when the view is malformed.
void checkView(const SparseColumnsView& w, const char* who);

enum class IndexChoice : std::uint8_t { Auto, Bitmap, RowU16 };

struct PackOptions {
  IndexChoice index = IndexChoice::Auto;  // Auto: whichever of bitmap / u16 is smaller for this matrix
  ValueType type = ValueType::F32;        // value storage (I8: one scale per row, int8RowScale)
  int stripRows = 0;                      // 0: automatic (see autoStripRows); else a multiple of 16
};

// The automatic strip height: as few strips as kMaxAutoStripRows allows, of equal height rounded up
// to a multiple of 16 rows.
int autoStripRows(std::int64_t rows);

// Bytes of each part of a packed matrix (what one full product streams from memory).
struct SparseBytes {
  std::uint64_t values = 0;   // nnz * valueBytes
  std::uint64_t index = 0;    // bitmaps or u16 row indices
  std::uint64_t offsets = 0;  // colStart
  std::uint64_t scales = 0;   // I8's row scales
  std::uint64_t total() const { return values + index + offsets + scales; }
};

class SparseColumns {
 public:
  SparseColumns() = default;
  // Packs the non-zeros of w [rows, cols] row-major f32 (a masked dense matrix: pruned = 0).
  // Values are rounded to opt.type; one rounding to zero still keeps its slot, so unpacking gives
  // back exactly roundTo(opt.type, w).
  static SparseColumns pack(const float* w, std::int64_t rows, std::int64_t cols, const PackOptions& opt = {});
  // out [rows, cols] row-major f32, zeros where nothing is stored.
  void toRowMajor(float* out) const;

  const SparseColumnsView& view() const { return m_view; }
  SparseBytes bytes() const;
  std::int64_t rows() const { return m_view.rows; }
  std::int64_t cols() const { return m_view.cols; }
  std::int64_t nnz() const { return m_view.nnz; }
  IndexKind index() const { return m_view.index; }
  ValueType type() const { return m_view.type; }

 private:
  void rebindView();
  SparseColumnsView m_view;
  AlignedBuffer m_colStart;  // [strips * cols + 1] u32
  AlignedBuffer m_bitmap;    // [strips * cols, bitmapBytes] u8
  AlignedBuffer m_rowIndex;  // [nnz] u16
  AlignedBuffer m_values;    // [nnz + kValuePad] of type
  AlignedBuffer m_scales;    // [rows] f32 (I8 only)

 public:
  SparseColumns(const SparseColumns& o) { *this = o; }
  SparseColumns& operator=(const SparseColumns& o);
  SparseColumns(SparseColumns&& o) noexcept { *this = std::move(o); }
  SparseColumns& operator=(SparseColumns&& o) noexcept;
};

// Predicted packed bytes for a matrix with `nnz` kept weights, without packing it.
SparseBytes predictSparseBytes(std::int64_t rows, std::int64_t cols, std::int64_t nnz, IndexKind index,
                               ValueType type, int stripRows);
// The packer's Auto choice for those sizes.
IndexKind chooseIndexKind(std::int64_t rows, std::int64_t cols, std::int64_t nnz, int stripRows);

}  // namespace duo::kernels
