// kernels/cuda: every CUDA kernel against the reference over the shared table of
// kernels/selftest.h (the same comparisons as `duoscope-cli selftest --cuda`). Skips, with the
// reason, where no CUDA device is usable or the build has no CUDA; it always builds.
#include <QtTest>

#include "kernels/cuda/cuda_matvec.h"
#include "kernels/selftest.h"

using namespace duo::kernels;

class TestCudaKernels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void matchesReference_data();
  void matchesReference();
  void timingAndBaselineRun();

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

QTEST_GUILESS_MAIN(TestCudaKernels)
#include "test_cuda_kernels.moc"
