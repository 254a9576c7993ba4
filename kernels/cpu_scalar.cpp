// SPDX-License-Identifier: GPL-3.0-or-later
// Portable CPU building blocks (no intrinsics): the fallback on CPUs without AVX2, and a second
// opinion in the tests. f32 accumulation like the vector ISAs.
#include <algorithm>
#include <vector>

#include "kernels/cpu_isa.h"

namespace duo::kernels::cpu::detail {
namespace {

void denseRows(const DenseView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1) {
  for (std::int64_t r = r0; r < r1; ++r) {
    float acc[kMaxBatch] = {};
    for (std::int64_t c = 0; c < w.cols; ++c) {
      const float wv = loadValue(w.values, w.type, static_cast<std::size_t>(r * w.ld + c));
      for (int b = 0; b < batch; ++b) acc[b] += wv * x[b * w.cols + c];
    }
    for (int b = 0; b < batch; ++b) y[b * w.rows + r] = acc[b];
  }
}

void colMajorAdd(const DenseView& w, const ActiveColumns& a, float* ys, std::int64_t ysStride, int batch,
                 std::int64_t r0, std::int64_t r1) {
  for (std::int64_t k = 0; k < a.count; ++k) {
    const std::size_t base = static_cast<std::size_t>(a.index[k]) * static_cast<std::size_t>(w.ld);
    for (int b = 0; b < batch; ++b) {
      const float xv = a.x[k * batch + b];
      float* yb = ys + b * ysStride;
      for (std::int64_t r = r0; r < r1; ++r) yb[r] += loadValue(w.values, w.type, base + static_cast<std::size_t>(r)) * xv;
    }
  }
}

void sparseStripAdd(const SparseColumnsView& w, std::int32_t s, const ActiveColumns& a, float* ys,
                    std::int64_t ysStride, int batch) {
  for (std::int64_t k = 0; k < a.count; ++k) {
    const std::int64_t rec = w.record(s, a.index[k]);
    const float* xk = a.x + k * batch;
    std::uint32_t i = w.colStart[rec];
    const std::uint32_t end = w.colStart[rec + 1];
    if (w.index == IndexKind::Bitmap) {
      const std::uint8_t* bm = w.bitmap + rec * w.bitmapBytes;
      for (std::int64_t byte = 0; i < end; ++byte) {
        unsigned bits = bm[byte];
        while (bits) {
          const int r = static_cast<int>(byte * 8) + __builtin_ctz(bits);
          bits &= bits - 1;
          const float wv = loadValue(w.values, w.type, i++);
          for (int b = 0; b < batch; ++b) ys[b * ysStride + r] += wv * xk[b];
        }
      }
    } else {
      for (; i < end; ++i) {
        const float wv = loadValue(w.values, w.type, i);
        const std::uint16_t r = w.rowIndex[i];
        for (int b = 0; b < batch; ++b) ys[b * ysStride + r] += wv * xk[b];
      }
    }
  }
}

void nmRows(const NmView& w, const float* x, float* y, int batch, std::int64_t r0, std::int64_t r1) {
  for (std::int64_t r = r0; r < r1; ++r) {
    float acc[kMaxBatch] = {};
    const std::uint8_t* maskRow = w.mask + r * w.maskRowBytes;
    std::size_t i = static_cast<std::size_t>(r * w.valuesPerRow());
    for (std::int64_t byte = 0; byte * 8 < w.cols; ++byte) {
      unsigned bits = maskRow[byte];
      while (bits) {
        const std::int64_t c = byte * 8 + __builtin_ctz(bits);
        bits &= bits - 1;
        const float wv = loadValue(w.values, w.type, i++);
        for (int b = 0; b < batch; ++b) acc[b] += wv * x[b * w.cols + c];
      }
    }
    for (int b = 0; b < batch; ++b) y[b * w.rows + r] = acc[b];
  }
}

void denseRowsQ8(const DenseView& w, const std::int8_t* q, const float* scale, float* y, std::int64_t r0,
                 std::int64_t r1) {
  const auto* values = static_cast<const std::int8_t*>(w.values);
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int8_t* row = values + r * w.ld;
    float acc = 0.0f;
    for (std::int64_t b = 0; b < inputBlocks(w.cols); ++b) {
      const std::int64_t j0 = b * kInputBlock, j1 = std::min<std::int64_t>(j0 + kInputBlock, w.cols);
      std::int32_t sum = 0;
      for (std::int64_t j = j0; j < j1; ++j) sum += static_cast<std::int32_t>(row[j]) * q[j];
      acc += scale[b] * static_cast<float>(sum);
    }
    y[r] = acc;
  }
}

void colMajorAddQ8(const DenseView&, const Q8Columns& a, float* ys, std::int64_t r0, std::int64_t r1) {
  for (std::int64_t b = 0; b < a.count; ++b) {
    const Q8Block& blk = a.blocks[b];
    for (std::int64_t r = r0; r < r1; ++r) {
      std::int32_t sum = 0;
      for (std::int64_t i = 4 * static_cast<std::int64_t>(blk.quadBegin); i < 4 * static_cast<std::int64_t>(blk.quadEnd); ++i)
        sum += static_cast<std::int32_t>(a.column[i][r]) * a.q[i];
      ys[r] += blk.scale * static_cast<float>(sum);
    }
  }
}

// Bitmap or u16 records alike: each stored value of a quad's column adds its integer product into
// its row's 32-bit sum, which the block's scale turns into f32 at the block's end.
void sparseStripAddQ8(const SparseColumnsView& w, std::int32_t s, const Q8Columns& a, float* ys) {
  const std::int64_t rows = w.stripEnd(s) - w.stripBegin(s);
  thread_local std::vector<std::int32_t> sums;  // [rows]
  sums.resize(static_cast<std::size_t>(rows));
  const auto* values = static_cast<const std::int8_t*>(w.values);
  for (std::int64_t b = 0; b < a.count; ++b) {
    const Q8Block& blk = a.blocks[b];
    std::fill(sums.begin(), sums.end(), 0);
    const std::int64_t i0 = 4 * static_cast<std::int64_t>(blk.quadBegin), i1 = 4 * static_cast<std::int64_t>(blk.quadEnd);
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t rec = w.record(s, a.index[i]);
      std::uint32_t k = w.colStart[rec];
      const std::uint32_t end = w.colStart[rec + 1];
      for (std::int64_t r = 0; k < end; ++r) {
        std::int64_t row = r;
        if (w.index == IndexKind::Bitmap) {
          if (!((w.bitmap[rec * w.bitmapBytes + r / 8] >> (r % 8)) & 1u)) continue;
        } else {
          row = w.rowIndex[k];
        }
        sums[static_cast<std::size_t>(row)] += static_cast<std::int32_t>(values[k++]) * a.q[i];
      }
    }
    for (std::int64_t r = 0; r < rows; ++r) ys[r] += blk.scale * static_cast<float>(sums[static_cast<std::size_t>(r)]);
  }
}

}  // namespace

const IsaKernels& scalarKernels() {
  static const IsaKernels k{denseRows, colMajorAdd, sparseStripAdd, nmRows, quantizeInputBlocks, denseRowsQ8,
                            colMajorAddQ8, sparseStripAddQ8};
  return k;
}

}  // namespace duo::kernels::cpu::detail
