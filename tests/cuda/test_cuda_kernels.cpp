// SPDX-License-Identifier: GPL-3.0-or-later
// kernels/cuda: every CUDA kernel against the reference over the shared table of
// kernels/selftest.h (the same comparisons as `duoscope-cli selftest --cuda`), plus int8 cases of
// its own. Skips, with the reason, where no CUDA device is usable or the build has no CUDA; it
// always builds.
#include <QtTest>

#include <sstream>
#include <vector>

#include "kernels/cuda/cuda_matvec.h"
#include "kernels/selftest.h"

using namespace duo::kernels;

class TestCudaKernels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void matchesReference_data();
  void matchesReference();
  void int8MatchesReference_data();
  void int8MatchesReference();
  void timingAndBaselineRun();
  void blasRefusesInt8();

 private:
  std::vector<selftest::Case> m_cases;
};

void TestCudaKernels::initTestCase() {
  const cuda::Status s = cuda::status();
  if (!s.available) QSKIP(qPrintable("CUDA kernels not checked: " + QString::fromStdString(s.reason)));
  qInfo("CUDA device: %s", s.device.c_str());
  m_cases = selftest::standardCases();
}

void TestCudaKernels::matchesReference_data() {
  QTest::addColumn<int>("index");
  const auto cases = selftest::standardCases();
  for (std::size_t i = 0; i < cases.size(); ++i) QTest::newRow(cases[i].name.c_str()) << static_cast<int>(i);
}

void TestCudaKernels::matchesReference() {
  QFETCH(int, index);
  const selftest::Case& c = m_cases[static_cast<std::size_t>(index)];
  const std::vector<selftest::Result> results = selftest::runCuda(c);
  QVERIFY(results.size() >= 7);
  for (const selftest::Result& r : results)
    QVERIFY2(r.passed, qPrintable(QString("%1: %2").arg(r.kernel.c_str(), r.message.c_str())));
}

// Int8 (row-scaled) storage in every format, on shapes that take each kernel's 16-byte vector path
// (cols and rows multiples of 16) and its element path, batches 1 to 8, short strips and N:M
// patterns; the same reference and tolerance as the f16/bf16 cases.
namespace {
std::vector<selftest::Case> int8Cases() {
  struct Shape {
    std::int64_t rows, cols;
    double pw, pa;
    int batch, stripRows, n, m;
  };
  const Shape shapes[] = {
      {256, 512, 0.0, 0.0, 1, 0, 0, 0},   {256, 512, 0.5, 0.5, 8, 0, 0, 0},  {1024, 600, 0.9, 0.5, 3, 0, 0, 0},
      {333, 129, 0.5, 0.5, 2, 16, 0, 0},  {37, 65, 0.5, 0.5, 1, 512, 0, 0},  {64, 48, 1.0, 0.0, 1, 0, 0, 0},
      {5, 7, 0.0, 0.5, 1, 0, 0, 0},       {1, 37, 0.0, 0.0, 2, 0, 0, 0},     {64, 48, 0.0, 0.5, 1, 0, 2, 4},
      {333, 144, 0.0, 0.5, 2, 0, 1, 2},   {128, 256, 0.0, 0.0, 8, 0, 8, 16},
  };
  std::vector<selftest::Case> out;
  for (const Shape& s : shapes) {
    selftest::Case c;
    c.rows = s.rows;
    c.cols = s.cols;
    c.wSparsity = s.pw;
    c.aSparsity = s.pa;
    c.type = ValueType::I8;
    c.batch = s.batch;
    c.stripRows = s.stripRows;
    c.nmN = s.n;
    c.nmM = s.m;
    c.seed = 7000 + out.size();
    std::ostringstream name;
    name << "int8 " << c.rows << "x" << c.cols << " ";
    if (c.nmM > 0)
      name << c.nmN << ":" << c.nmM;
    else
      name << "w" << c.wSparsity;
    name << " a" << c.aSparsity << " b" << c.batch;
    if (c.stripRows) name << " strip" << c.stripRows;
    c.name = name.str();
    out.push_back(c);
  }
  return out;
}
}  // namespace

void TestCudaKernels::int8MatchesReference_data() {
  QTest::addColumn<int>("index");
  const auto cases = int8Cases();
  for (std::size_t i = 0; i < cases.size(); ++i) QTest::newRow(cases[i].name.c_str()) << static_cast<int>(i);
}

void TestCudaKernels::int8MatchesReference() {
  QFETCH(int, index);
  const selftest::Case c = int8Cases()[static_cast<std::size_t>(index)];
  const std::vector<selftest::Result> results = selftest::runCuda(c);
  QVERIFY(results.size() >= (c.nmM > 0 ? 9u : 7u));
  for (const selftest::Result& r : results)
    QVERIFY2(r.passed, qPrintable(QString("%1: %2").arg(r.kernel.c_str(), r.message.c_str())));
}

// The benchmark's pieces: cuBLAS gives the same product, event timing returns a positive median.
void TestCudaKernels::timingAndBaselineRun() {
  selftest::Case c;
  c.rows = 512;
  c.cols = 384;
  c.type = ValueType::F16;
  const selftest::Problem p = selftest::makeProblem(c);
  const DenseMatrix m = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::RowMajor, c.type);
  std::vector<std::uint16_t> xHalf(p.x.size());
  for (std::size_t i = 0; i < p.x.size(); ++i) xHalf[i] = floatToHalf(p.x[i]);
  const cuda::DeviceDense dm(m);
  cuda::DeviceBuffer x(xHalf.size() * 2), y(static_cast<std::size_t>(c.rows) * 4);
  x.upload(xHalf.data(), xHalf.size() * 2);
  y.fill(0xff);
  cuda::blasGemv(dm.view(), x.data(), y.as<float>());
  cuda::synchronize();
  std::vector<float> got(static_cast<std::size_t>(c.rows)), ref(got.size());
  y.download(got.data(), got.size() * 4);
  std::vector<float> xRounded(p.x.size());
  for (std::size_t i = 0; i < p.x.size(); ++i) xRounded[i] = halfToFloat(xHalf[i]);
  ref::denseGemv(m.view(), xRounded.data(), ref.data());
  QVERIFY(normalisedError(got.data(), ref.data(), got.size()) < 1e-3);
  const double us = cuda::medianMicros([&](int) { cuda::blasGemv(dm.view(), x.data(), y.as<float>()); }, 2, 10);
  QVERIFY(us > 0.0);
  QVERIFY(cuda::copyBandwidthGbs(64u << 20) > 10.0);
}

// cuBLAS has no row-scaled int8 product: the baseline refuses such a matrix by name, and the device
// copy carries the scales (a float matrix's copy has none).
void TestCudaKernels::blasRefusesInt8() {
  selftest::Case c;
  c.rows = 32;
  c.cols = 48;
  const selftest::Problem p = selftest::makeProblem(c);
  const DenseMatrix m = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::RowMajor, ValueType::I8);
  const DenseMatrix f = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::RowMajor, ValueType::F32);
  const cuda::DeviceDense dm(m), df(f);
  QVERIFY(dm.view().rowScale != nullptr && dm.view().rowScale != m.view().rowScale);
  QVERIFY(df.view().rowScale == nullptr);
  cuda::DeviceBuffer x(static_cast<std::size_t>(c.cols)), y(static_cast<std::size_t>(c.rows) * 4);
  try {
    cuda::blasGemv(dm.view(), x.data(), y.as<float>());
    QFAIL("cuda::blasGemv ran an int8 matrix");
  } catch (const std::exception& e) {
    QVERIFY2(QString(e.what()).contains("int8"), e.what());
  }
}

QTEST_GUILESS_MAIN(TestCudaKernels)
#include "test_cuda_kernels.moc"
