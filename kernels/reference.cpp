// SPDX-License-Identifier: GPL-3.0-or-later
// Reference kernels: the obvious loops, each format decoded the simplest way, f64 accumulation.
// They define what the optimised kernels must compute.
#include <vector>

#include "kernels/matvec.h"

namespace duo::kernels {

void checkMatVec(const char* who, std::int64_t rows, std::int64_t cols, const float* x, const float* y, int batch) {
  DUO_CHECK(batch >= 1 && batch <= kMaxBatch, who, ": batch must be in [1, ", kMaxBatch, "], got ", batch);
  DUO_CHECK(rows >= 1 && cols >= 1, who, ": expected a matrix of at least 1x1, got [", rows, ", ", cols, "]");
  DUO_CHECK(x != nullptr, who, ": input x [", batch, ", ", cols, "] pointer is null");
  DUO_CHECK(y != nullptr, who, ": output y [", batch, ", ", rows, "] pointer is null");
}

void checkColMajor(const DenseView& w, const char* who) {
  DUO_CHECK(w.layout == Layout::ColMajor, who, ": needs a column-major matrix (a zero input skips a contiguous "
                                          "column), got row-major");
}

namespace ref {

namespace {
// y[b, r] = sum_j W(r, j) x[b, j] over the columns `want` accepts, for a W given by `at(r, j)`.
template <typename At, typename Want, typename X>
void denseProduct(std::int64_t rows, std::int64_t cols, At at, Want want, const X* x, float* y, int batch) {
  std::vector<double> acc(static_cast<std::size_t>(batch));  // [batch] f64
  for (std::int64_t r = 0; r < rows; ++r) {
    for (auto& a : acc) a = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      if (!want(j)) continue;
      const double wv = at(r, j);
      for (int b = 0; b < batch; ++b) acc[b] += wv * static_cast<double>(x[b * cols + j]);
    }
    for (int b = 0; b < batch; ++b) y[b * rows + r] = static_cast<float>(acc[b]);
  }
}

// Row r's I8 scale (1 for the float types, which carry none).
double scaleOf(const float* rowScale, std::int64_t r) { return rowScale != nullptr ? rowScale[r] : 1.0; }

// x [batch, cols] as the int8-input products see it: each row rounded in blocks of kInputBlock,
// q * scale exactly (f64).
std::vector<double> int8Inputs(const float* x, std::int64_t cols, int batch) {
  std::vector<double> out(static_cast<std::size_t>(batch * cols));
  std::vector<std::int8_t> q(static_cast<std::size_t>(inputBlocks(cols) * kInputBlock));
  std::vector<float> scale(static_cast<std::size_t>(inputBlocks(cols)));
  for (int b = 0; b < batch; ++b) {
    quantizeInputBlocks(x + b * cols, cols, q.data(), scale.data());
    for (std::int64_t j = 0; j < cols; ++j)
      out[static_cast<std::size_t>(b * cols + j)] =
          static_cast<double>(q[static_cast<std::size_t>(j)]) * static_cast<double>(scale[static_cast<std::size_t>(j / kInputBlock)]);
  }
  return out;
}

template <typename X>
bool columnActive(const X* x, std::int64_t cols, int batch, std::int64_t j) {
  for (int b = 0; b < batch; ++b)
    if (x[b * cols + j] != 0) return true;
  return false;
}

// The sparse-column product, record by record; `skipZeroInputs` selects spMspV over SpMV (x: f32
// inputs, or f64 ones rounded to int8 as int8Inputs gives them).
template <typename X>
void sparseColumnsProduct(const SparseColumnsView& w, const X* x, float* y, int batch, bool skipZeroInputs) {
  std::vector<double> acc(static_cast<std::size_t>(batch * w.rows), 0.0);  // [batch, rows] f64
  for (std::int32_t s = 0; s < w.strips; ++s) {
    const std::int64_t r0 = w.stripBegin(s);
    for (std::int64_t j = 0; j < w.cols; ++j) {
      if (skipZeroInputs && !columnActive(x, w.cols, batch, j)) continue;
      const std::int64_t rec = w.record(s, j);
      std::uint32_t k = w.colStart[rec];
      for (std::int64_t r = 0; r < w.stripRows && k < w.colStart[rec + 1]; ++r) {
        std::int64_t row;
        if (w.index == IndexKind::Bitmap) {
          if (!(w.bitmap[rec * w.bitmapBytes + r / 8] & (1u << (r % 8)))) continue;
          row = r0 + r;
        } else {
          row = r0 + w.rowIndex[k];
        }
        const double wv = static_cast<double>(loadValue(w.values, w.type, k++)) * scaleOf(w.rowScale, row);
        for (int b = 0; b < batch; ++b) acc[b * w.rows + row] += wv * x[b * w.cols + j];
      }
    }
  }
  for (std::size_t i = 0; i < acc.size(); ++i) y[i] = static_cast<float>(acc[i]);
}

void nmProduct(const NmView& w, const float* x, float* y, int batch, bool skipZeroInputs) {
  std::vector<double> acc(static_cast<std::size_t>(batch));  // [batch] f64
  for (std::int64_t r = 0; r < w.rows; ++r) {
    for (auto& a : acc) a = 0.0;
    const std::uint8_t* maskRow = w.mask + r * w.maskRowBytes;
    std::size_t k = static_cast<std::size_t>(r * w.valuesPerRow());
    for (std::int64_t c = 0; c < w.cols; ++c) {
      if (!((maskRow[c / 8] >> (c % 8)) & 1u)) continue;
      const double wv = static_cast<double>(loadValue(w.values, w.type, k++)) * scaleOf(w.rowScale, r);
      if (skipZeroInputs && !columnActive(x, w.cols, batch, c)) continue;
      for (int b = 0; b < batch; ++b) acc[b] += wv * x[b * w.cols + c];
    }
    for (int b = 0; b < batch; ++b) y[b * w.rows + r] = static_cast<float>(acc[b]);
  }
}
}  // namespace

void denseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkProduct("ref::denseGemv", w, x, y, batch);
  const auto at = [&](std::int64_t r, std::int64_t j) { return w.at(r, j); };
  const auto all = [](std::int64_t) { return true; };
  if (w.int8Inputs) return denseProduct(w.rows, w.cols, at, all, int8Inputs(x, w.cols, batch).data(), y, batch);
  denseProduct(w.rows, w.cols, at, all, x, y, batch);
}

void actSparseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkProduct("ref::actSparseGemv", w, x, y, batch);
  checkColMajor(w, "ref::actSparseGemv");
  const auto at = [&](std::int64_t r, std::int64_t j) { return w.at(r, j); };
  const auto active = [&](std::int64_t j) { return columnActive(x, w.cols, batch, j); };
  if (w.int8Inputs) return denseProduct(w.rows, w.cols, at, active, int8Inputs(x, w.cols, batch).data(), y, batch);
  denseProduct(w.rows, w.cols, at, active, x, y, batch);
}

void weightSparseSpmv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkProduct("ref::weightSparseSpmv", w, x, y, batch);
  if (w.int8Inputs) return sparseColumnsProduct(w, int8Inputs(x, w.cols, batch).data(), y, batch, false);
  sparseColumnsProduct(w, x, y, batch, false);
}

void dualSparseSpmspv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkProduct("ref::dualSparseSpmspv", w, x, y, batch);
  if (w.int8Inputs) return sparseColumnsProduct(w, int8Inputs(x, w.cols, batch).data(), y, batch, true);
  sparseColumnsProduct(w, x, y, batch, true);
}

void weightSparseSpmv(const NmView& w, const float* x, float* y, int batch) {
  checkProduct("ref::weightSparseSpmv", w, x, y, batch);
  nmProduct(w, x, y, batch, false);
}

void dualSparseSpmspv(const NmView& w, const float* x, float* y, int batch) {
  checkProduct("ref::dualSparseSpmspv", w, x, y, batch);
  nmProduct(w, x, y, batch, true);
}

}  // namespace ref
}  // namespace duo::kernels
