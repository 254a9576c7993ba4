// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/bitmask.h"

#include <cstring>

#include "core/common/error.h"

namespace duo {

namespace {

bool isZero(const uint8_t* p, int elemBytes) {
  if (elemBytes == 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return (v & 0x7FFFFFFFu) == 0;
  }
  uint16_t v;
  std::memcpy(&v, p, 2);
  return (v & 0x7FFFu) == 0;
}

int popcount8(uint8_t b) { return __builtin_popcount(b); }

}  // namespace

BitmaskEncoded bitmaskEncode(const void* data, int64_t rows, int64_t cols, int elemBytes) {
  DUO_CHECK(elemBytes == 2 || elemBytes == 4, "bitmask: element size ", elemBytes, " is not 2 or 4");
  const auto* src = static_cast<const uint8_t*>(data);
  const int64_t rb = bitmaskRowBytes(cols);
  BitmaskEncoded e;
  e.mask.assign(static_cast<size_t>(rows * rb), 0);
  e.rowOffsets.resize(static_cast<size_t>(rows));
  e.values.reserve(static_cast<size_t>(rows * cols * elemBytes / 2));
  for (int64_t r = 0; r < rows; ++r) {
    e.rowOffsets[static_cast<size_t>(r)] = e.nnz;
    uint8_t* m = e.mask.data() + r * rb;
    const uint8_t* row = src + r * cols * elemBytes;
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t* v = row + c * elemBytes;
      if (isZero(v, elemBytes)) continue;
      m[c >> 3] = static_cast<uint8_t>(m[c >> 3] | (1u << (c & 7)));
      e.values.insert(e.values.end(), v, v + elemBytes);
      ++e.nnz;
    }
  }
  return e;
}

void bitmaskDecode(const void* values, int64_t nnz, const uint8_t* mask, const int64_t* rowOffsets, int64_t rows,
                   int64_t cols, int elemBytes, void* dst, const std::string& what) {
  DUO_CHECK(elemBytes == 2 || elemBytes == 4, what, ": element size ", elemBytes, " is not 2 or 4");
  const auto* val = static_cast<const uint8_t*>(values);
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t rb = bitmaskRowBytes(cols);
  std::memset(out, 0, static_cast<size_t>(rows * cols * elemBytes));
  int64_t k = 0;  // next value
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* m = mask + r * rb;
    int64_t bits = 0;
    for (int64_t b = 0; b < rb; ++b) bits += popcount8(m[b]);
    // Bits past the last column would be decoded by nobody: refuse them rather than drop values.
    if (cols % 8 != 0) DUO_CHECK((m[rb - 1] >> (cols % 8)) == 0, what, ": row ", r, " sets bits past column ", cols - 1);
    int64_t offset;
    std::memcpy(&offset, rowOffsets + r, sizeof offset);
    DUO_CHECK(offset == k, what, ": row_offsets[", r, "] = ", offset, " but the rows before it hold ", k, " values");
    DUO_CHECK(k + bits <= nnz, what, ": the bitmask sets more bits than the ", nnz, " stored values (at row ", r, ")");
    uint8_t* row = out + r * cols * elemBytes;
    for (int64_t c = 0; c < cols; ++c) {
      if ((m[c >> 3] >> (c & 7)) & 1u) {
        std::memcpy(row + c * elemBytes, val + k * elemBytes, static_cast<size_t>(elemBytes));
        ++k;
      }
    }
  }
  DUO_CHECK(k == nnz, what, ": ", nnz, " values are stored but the bitmask sets ", k, " bits");
}

}  // namespace duo
