// SPDX-License-Identifier: GPL-3.0-or-later
// kernels/: the weight formats. Dense <-> packed conversions are exact (values as the storage type
// rounds them), the packer picks the smaller index, N:M packing keeps exactly N slots per group,
// half-precision conversions round to nearest even, and the automatic strip heights are sane.
#include <QtTest>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/dense_matrix.h"
#include "kernels/nm_sparse.h"
#include "kernels/sparse_columns.h"

using namespace duo::kernels;

Q_DECLARE_METATYPE(ValueType)
Q_DECLARE_METATYPE(IndexChoice)
Q_DECLARE_METATYPE(Layout)

namespace {
// w [rows, cols] with fraction pw zeroed; values spread over many binades so rounding matters.
std::vector<float> masked(std::int64_t rows, std::int64_t cols, double pw, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w)
    v = u(rng) < pw ? 0.0f : static_cast<float>((u(rng) - 0.5) * std::pow(2.0, 20.0 * u(rng) - 10.0));
  return w;
}

bool bitsEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> rounded(const std::vector<float>& w, ValueType t) {
  std::vector<float> out(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) out[i] = roundTo(t, w[i]);
  return out;
}
}  // namespace

class TestKernelsFormats : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void denseRoundTrip_data();
  void denseRoundTrip();
  void sparseRoundTrip_data();
  void sparseRoundTrip();
  void packerPicksSmallerIndex();
  void nmRoundTrip_data();
  void nmRoundTrip();
  void nmRejectsDenserGroups();
  void halfConversions();
  void int8RowScaled();
  void int8ViewsNeedScales();
  void autoStripRows_data();
  void autoStripRows();
  void mediumBuffersShareChunks();
};

void TestKernelsFormats::denseRoundTrip_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  QTest::addColumn<Layout>("layout");
  QTest::addColumn<ValueType>("type");
  for (auto shape : {std::pair{1, 1}, std::pair{1, 13}, std::pair{17, 1}, std::pair{33, 70}})
    for (Layout l : {Layout::RowMajor, Layout::ColMajor})
      for (ValueType t : {ValueType::F32, ValueType::F16, ValueType::BF16})
        QTest::addRow("%dx%d %s %s", shape.first, shape.second, layoutName(l), valueTypeName(t))
            << shape.first << shape.second << l << t;
}

void TestKernelsFormats::denseRoundTrip() {
  QFETCH(int, rows);
  QFETCH(int, cols);
  QFETCH(Layout, layout);
  QFETCH(ValueType, type);
  const std::vector<float> w = masked(rows, cols, 0.3, 7);
  const DenseMatrix m = DenseMatrix::fromRowMajor(w.data(), rows, cols, layout, type);
  QCOMPARE(m.bytes(), static_cast<std::size_t>(rows * cols) * valueBytes(type));
  std::vector<float> back(w.size());
  m.toRowMajor(back.data());
  QVERIFY(bitsEqual(back, rounded(w, type)));
  if (type == ValueType::F32) QVERIFY(bitsEqual(back, w));
  // The layout is what it says: element (r, c) sits where the view's ld says.
  const DenseView v = m.view();
  QCOMPARE(v.at(rows - 1, 0), roundTo(type, w[static_cast<std::size_t>((rows - 1) * cols)]));
}

void TestKernelsFormats::sparseRoundTrip_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  QTest::addColumn<double>("pw");
  QTest::addColumn<ValueType>("type");
  QTest::addColumn<IndexChoice>("index");
  QTest::addColumn<int>("stripRows");
  for (auto shape : {std::pair{1, 1}, std::pair{1, 40}, std::pair{45, 1}, std::pair{100, 37}, std::pair{1030, 9}})
    for (double pw : {0.0, 0.5, 0.9, 1.0})
      for (IndexChoice ix : {IndexChoice::Bitmap, IndexChoice::RowU16, IndexChoice::Auto})
        for (int strip : {0, 16, 80})
          QTest::addRow("%dx%d w%.1f %s strip%d", shape.first, shape.second, pw,
                        ix == IndexChoice::Auto ? "auto" : (ix == IndexChoice::Bitmap ? "bitmap" : "u16"), strip)
              << shape.first << shape.second << pw << ValueType::F32 << ix << strip;
  for (ValueType t : {ValueType::F16, ValueType::BF16})
    for (IndexChoice ix : {IndexChoice::Bitmap, IndexChoice::RowU16})
      QTest::addRow("300x77 w0.5 %s %s", valueTypeName(t), ix == IndexChoice::Bitmap ? "bitmap" : "u16")
          << 300 << 77 << 0.5 << t << ix << 0;
}

void TestKernelsFormats::sparseRoundTrip() {
  QFETCH(int, rows);
  QFETCH(int, cols);
  QFETCH(double, pw);
  QFETCH(ValueType, type);
  QFETCH(IndexChoice, index);
  QFETCH(int, stripRows);
  const std::vector<float> w = masked(rows, cols, pw, static_cast<std::uint64_t>(rows * 31 + cols));
  PackOptions o;
  o.type = type;
  o.index = index;
  o.stripRows = stripRows;
  const SparseColumns m = SparseColumns::pack(w.data(), rows, cols, o);
  std::int64_t nnz = 0;
  for (float v : w) nnz += v != 0.0f;
  QCOMPARE(m.nnz(), nnz);
  if (index == IndexChoice::Bitmap) QCOMPARE(m.index(), IndexKind::Bitmap);
  if (index == IndexChoice::RowU16) QCOMPARE(m.index(), IndexKind::RowU16);
  const SparseColumnsView& v = m.view();
  QVERIFY(v.stripRows % 16 == 0);
  QCOMPARE(static_cast<std::int64_t>(v.strips), (rows + v.stripRows - 1) / v.stripRows);
  if (stripRows) QCOMPARE(v.stripRows, stripRows);
  for (std::int64_t k = 0; k < static_cast<std::int64_t>(v.strips) * cols; ++k) QVERIFY(v.colStart[k] <= v.colStart[k + 1]);
  QCOMPARE(static_cast<std::int64_t>(v.colStart[static_cast<std::int64_t>(v.strips) * cols]), nnz);
  std::vector<float> back(w.size(), -1.0f);
  m.toRowMajor(back.data());
  QVERIFY(bitsEqual(back, rounded(w, type)));
  // The bytes accounting is the format's actual size.
  const SparseBytes b = m.bytes();
  QCOMPARE(b.values, static_cast<std::uint64_t>(nnz) * valueBytes(type));
  QCOMPARE(b.index, m.index() == IndexKind::Bitmap
                        ? static_cast<std::uint64_t>(v.strips) * cols * static_cast<std::uint64_t>(v.bitmapBytes)
                        : static_cast<std::uint64_t>(nnz) * 2u);
}

void TestKernelsFormats::packerPicksSmallerIndex() {
  // 50% pruned: 1 bit per weight beats 2 bytes per kept weight; 97% pruned: the other way round.
  const std::vector<float> half = masked(256, 256, 0.5, 1), sparse = masked(256, 256, 0.97, 2);
  const SparseColumns a = SparseColumns::pack(half.data(), 256, 256);
  const SparseColumns b = SparseColumns::pack(sparse.data(), 256, 256);
  QCOMPARE(a.index(), IndexKind::Bitmap);
  QCOMPARE(b.index(), IndexKind::RowU16);
  PackOptions forced;
  forced.index = IndexChoice::Bitmap;
  QVERIFY(b.bytes().total() < SparseColumns::pack(sparse.data(), 256, 256, forced).bytes().total());
  forced.index = IndexChoice::RowU16;
  QVERIFY(a.bytes().total() < SparseColumns::pack(half.data(), 256, 256, forced).bytes().total());
}

void TestKernelsFormats::nmRoundTrip_data() {
  QTest::addColumn<int>("n");
  QTest::addColumn<int>("m");
  QTest::addColumn<int>("cols");
  QTest::addColumn<ValueType>("type");
  for (auto nm : {std::pair{2, 4}, std::pair{1, 4}, std::pair{4, 8}, std::pair{1, 2}, std::pair{8, 16}, std::pair{16, 16}})
    for (ValueType t : {ValueType::F32, ValueType::BF16})
      QTest::addRow("%d:%d %s", nm.first, nm.second, valueTypeName(t)) << nm.first << nm.second << nm.second * 5 << t;
}

void TestKernelsFormats::nmRoundTrip() {
  QFETCH(int, n);
  QFETCH(int, m);
  QFETCH(int, cols);
  QFETCH(ValueType, type);
  const int rows = 9;
  // Per group: between 0 and n non-zeros (fewer than n exercises the zero-filled slots).
  std::mt19937_64 rng(static_cast<std::uint64_t>(n * 100 + m));
  std::vector<float> w(static_cast<std::size_t>(rows * cols), 0.0f);
  for (int r = 0; r < rows; ++r)
    for (int g = 0; g < cols; g += m) {
      const int keep = static_cast<int>(rng() % static_cast<std::uint64_t>(n + 1));
      for (int i = 0; i < keep; ++i) w[static_cast<std::size_t>(r * cols + g + (i * 7 + r) % m)] = 1.5f + i + r;
    }
  QVERIFY(isNmSparse(w.data(), rows, cols, n, m));
  const NmMatrix nm = NmMatrix::pack(w.data(), rows, cols, n, m, type);
  std::vector<float> back(w.size(), -1.0f);
  nm.toRowMajor(back.data());
  QVERIFY(bitsEqual(back, rounded(w, type)));
  const NmView& v = nm.view();
  for (int r = 0; r < rows; ++r)
    for (int g = 0; g < cols; g += m) {
      int bits = 0;
      for (int i = 0; i < m; ++i) bits += (v.mask[r * v.maskRowBytes + (g + i) / 8] >> ((g + i) % 8)) & 1;
      QCOMPARE(bits, n);
    }
  QCOMPARE(nm.valueBytes(), static_cast<std::uint64_t>(rows * cols / m * n) * valueBytes(type));
}

void TestKernelsFormats::nmRejectsDenserGroups() {
  std::vector<float> w(2 * 8, 0.0f);
  w[8 + 4] = w[8 + 5] = w[8 + 6] = 1.0f;  // row 1, group [4, 8): 3 non-zeros
  QVERIFY(!isNmSparse(w.data(), 2, 8, 2, 4));
  try {
    NmMatrix::pack(w.data(), 2, 8, 2, 4);
    QFAIL("accepted a 3:4 group as 2:4");
  } catch (const duo::Error& e) {
    QCOMPARE(QString(e.what()), QString("NmMatrix::pack: row 1 columns [4, 8) hold 3 non-zeros, 2:4 allows 2"));
  }
  try {
    NmMatrix::pack(w.data(), 2, 8, 2, 3);
    QFAIL("accepted M = 3");
  } catch (const duo::Error& e) {
    QVERIFY(QString(e.what()).contains("M in {2, 4, 8, 16}"));
  }
}

void TestKernelsFormats::halfConversions() {
  QCOMPARE(floatToHalf(1.0f), std::uint16_t(0x3c00));
  QCOMPARE(floatToHalf(-2.0f), std::uint16_t(0xc000));
  QCOMPARE(floatToHalf(65504.0f), std::uint16_t(0x7bff));
  QCOMPARE(floatToHalf(65520.0f), std::uint16_t(0x7c00));            // rounds up to inf
  QCOMPARE(floatToHalf(std::ldexp(1.0f, -24)), std::uint16_t(0x0001));  // smallest subnormal
  QCOMPARE(floatToHalf(std::ldexp(1.0f, -25)), std::uint16_t(0x0000));  // tie to even: zero
  QCOMPARE(floatToHalf(1.0f + std::ldexp(1.0f, -11)), std::uint16_t(0x3c00));  // tie to even
  QCOMPARE(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), std::uint16_t(0x3c02));
  QVERIFY(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
  for (std::uint32_t h = 0; h < 0x7c00; ++h)  // every finite half survives the round trip
    QCOMPARE(floatToHalf(halfToFloat(static_cast<std::uint16_t>(h))), static_cast<std::uint16_t>(h));
  QCOMPARE(floatToBf16(1.0f), std::uint16_t(0x3f80));
  QCOMPARE(floatToBf16(1.0f + std::ldexp(1.0f, -8)), std::uint16_t(0x3f80));      // tie to even
  QCOMPARE(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), std::uint16_t(0x3f82));
  QCOMPARE(bf16ToFloat(0xc040), -3.0f);
}

// I8: every format stores q * rowScale[r] with the row's largest |w| as +-127; zeros stay exactly
// zero, every other weight is within half a step, and all three formats agree bit for bit.
void TestKernelsFormats::int8RowScaled() {
  const std::int64_t rows = 77, cols = 64;
  std::vector<float> w = masked(rows, cols, 0.5, 11);
  std::fill(w.begin() + 5 * cols, w.begin() + 6 * cols, 0.0f);  // an all-zero row
  for (std::int64_t c = 0; c < cols; c += 2) w[static_cast<std::size_t>(7 * cols + c)] = 0.0f;  // 2:4-able row
  const DenseMatrix dense = DenseMatrix::fromRowMajor(w.data(), rows, cols, Layout::RowMajor, ValueType::I8);
  const DenseMatrix colMajor = DenseMatrix::fromRowMajor(w.data(), rows, cols, Layout::ColMajor, ValueType::I8);
  PackOptions o;
  o.type = ValueType::I8;
  const SparseColumns packed = SparseColumns::pack(w.data(), rows, cols, o);
  std::vector<float> a(w.size()), b(w.size()), c(w.size());
  dense.toRowMajor(a.data());
  colMajor.toRowMajor(b.data());
  packed.toRowMajor(c.data());
  QVERIFY(bitsEqual(a, b));
  QVERIFY(bitsEqual(a, c));
  QCOMPARE(packed.bytes().scales, static_cast<std::uint64_t>(rows * 4));
  QCOMPARE(packed.bytes().values, static_cast<std::uint64_t>(packed.nnz()));
  QCOMPARE(dense.view().valueBytesRead(), static_cast<std::uint64_t>(rows * cols + rows * 4));
  for (std::int64_t r = 0; r < rows; ++r) {
    float mx = 0;
    for (std::int64_t j = 0; j < cols; ++j) mx = std::max(mx, std::fabs(w[static_cast<std::size_t>(r * cols + j)]));
    const float scale = dense.view().rowScale[r];
    QCOMPARE(scale, mx > 0 ? mx / 127.0f : 1.0f);
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * cols + j);
      if (w[i] == 0.0f) QCOMPARE(a[i], 0.0f);
      QVERIFY2(std::fabs(a[i] - w[i]) <= 0.5f * scale * 1.0001f, qPrintable(QString("row %1 col %2").arg(r).arg(j)));
      if (mx > 0 && std::fabs(w[i]) == mx) QCOMPARE(std::abs(static_cast<int>(static_cast<const std::int8_t*>(dense.view().values)[i])), 127);
    }
  }
  // N:M keeps the same values (row 7 and the zero row are 1:2; pack a 1:2 copy of them).
  std::vector<float> nmRows(w.begin() + 5 * cols, w.begin() + 8 * cols);
  std::fill(nmRows.begin() + cols, nmRows.begin() + 2 * cols, 0.0f);
  const NmMatrix nm = NmMatrix::pack(nmRows.data(), 3, cols, 1, 2, ValueType::I8);
  std::vector<float> d(nmRows.size());
  nm.toRowMajor(d.data());
  for (std::int64_t j = 0; j < cols; ++j) QCOMPARE(d[static_cast<std::size_t>(2 * cols + j)], a[static_cast<std::size_t>(7 * cols + j)]);
  QCOMPARE(nm.valueBytes(), static_cast<std::uint64_t>(3 * cols / 2 + 3 * 4));
}

// A hand-made int8 view without its scales is refused by every backend's checks, by name.
void TestKernelsFormats::int8ViewsNeedScales() {
  const std::vector<float> w = masked(16, 16, 0.5, 3);
  PackOptions o;
  o.type = ValueType::I8;
  const SparseColumns packed = SparseColumns::pack(w.data(), 16, 16, o);
  SparseColumnsView v = packed.view();
  v.rowScale = nullptr;
  try {
    checkView(v, "test");
    QFAIL("an int8 view without scales passed the checks");
  } catch (const std::exception& e) {
    QVERIFY2(QString(e.what()).contains("row scales"), e.what());
  }
  const DenseMatrix dm = DenseMatrix::fromRowMajor(w.data(), 16, 16, Layout::RowMajor, ValueType::I8);
  DenseView dv = dm.view();
  QVERIFY(dv.rowScale != nullptr);
  dv.rowScale = nullptr;
  QVERIFY_THROWS_EXCEPTION(std::exception, checkView(dv, "test"));
}

void TestKernelsFormats::autoStripRows_data() {
  QTest::addColumn<qint64>("rows");
  QTest::addColumn<int>("expected");
  QTest::newRow("4096 rows: one strip") << qint64(4096) << 4096;
  QTest::newRow("11008 rows: three equal strips") << qint64(11008) << 3680;
  QTest::newRow("576 rows") << qint64(576) << 576;
  QTest::newRow("14336 rows") << qint64(14336) << 3584;
  QTest::newRow("1 row") << qint64(1) << 16;
  QTest::newRow("33 rows: rounded to 16") << qint64(33) << 48;
}

void TestKernelsFormats::autoStripRows() {
  QFETCH(qint64, rows);
  QFETCH(int, expected);
  QCOMPARE(duo::kernels::autoStripRows(rows), expected);
}

// Medium buffers (64 KiB - 4 MiB, a small model's packed projections) share huge-page chunks:
// each starts zeroed and 64-byte aligned, a freed one's space is taken again first-fit, and a
// chunk goes back to the system with its last buffer. Under AddressSanitizer each buffer is its
// own block (no chunks at all).
void TestKernelsFormats::mediumBuffersShareChunks() {
  const std::size_t before = detail::arenaChunkBytes();
  auto zeroed = [](const AlignedBuffer& b) {
    for (std::size_t i = 0; i < b.size(); ++i)
      if (b.data()[i] != 0) return false;
    return true;
  };
  {
    std::vector<AlignedBuffer> bufs;
    bufs.reserve(8);
    for (int i = 0; i < 8; ++i) {
      bufs.emplace_back(300000);
      QVERIFY(reinterpret_cast<std::uintptr_t>(bufs.back().data()) % AlignedBuffer::kAlign == 0);
      QVERIFY(zeroed(bufs.back()));
      std::memset(bufs.back().data(), 0xab, bufs.back().size());
    }
    if (!detail::buffersPooled()) {
      QCOMPARE(detail::arenaChunkBytes(), std::size_t(0));
      return;
    }
    QVERIFY(detail::arenaChunkBytes() > before);
    const unsigned char* third = bufs[3].data();
    bufs[3] = AlignedBuffer();  // its 300 KB go back to the chunk
    const AlignedBuffer again(300000);
    if (before == 0) QCOMPARE(again.data(), third);  // the only hole that fits (no older chunks)
    QVERIFY(zeroed(again));
    for (int i : {0, 1, 2, 4, 5, 6, 7}) QCOMPARE(bufs[static_cast<std::size_t>(i)].data()[299999], std::uint8_t(0xab));
  }
  QCOMPARE(detail::arenaChunkBytes(), before);
}

QTEST_GUILESS_MAIN(TestKernelsFormats)
#include "test_kernels_formats.moc"
