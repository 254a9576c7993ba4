// SPDX-License-Identifier: GPL-3.0-or-later
// kernels/: every CPU kernel (each instruction set this CPU runs) against the reference over the
// shared table of kernels/selftest.h, plus the input checks that every backend shares.
#include <omp.h>

#include <QtTest>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cuda/cuda_matvec.h"
#include "kernels/matvec.h"
#include "kernels/selftest.h"

using namespace duo::kernels;

namespace {
// A W50% + A50% case of the selftest's random problems.
selftest::Case halfSparse(std::int64_t rows, std::int64_t cols, ValueType type, std::uint64_t seed) {
  selftest::Case c;
  c.rows = rows;
  c.cols = cols;
  c.wSparsity = 0.5;
  c.aSparsity = 0.5;
  c.type = type;
  c.seed = seed;
  return c;
}
}  // namespace

class TestKernels : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void matchesReference_data();
  void matchesReference();
  void skipsOnlyZeroInputs();
  void sameResultOnAnyThreadCount();
  void int8InputsRoundLikeTheDefinition();
  void int8InputsStayCloseToF32Inputs();
  void inputChecks_data();
  void inputChecks();

 private:
  std::vector<selftest::Case> m_cases;
};

void TestKernels::initTestCase() {
  m_cases = selftest::standardCases();
  QVERIFY(m_cases.size() > 100);
  QStringList isas;
  for (cpu::Isa isa : cpu::supportedIsas()) isas << cpu::isaName(isa);
  qInfo("CPU kernels: active %s, testing %s", cpu::isaName(cpu::activeIsa()), qPrintable(isas.join(", ")));
}

void TestKernels::matchesReference_data() {
  QTest::addColumn<int>("index");
  for (std::size_t i = 0; i < m_cases.size(); ++i) QTest::newRow(m_cases[i].name.c_str()) << static_cast<int>(i);
}

void TestKernels::matchesReference() {
  QFETCH(int, index);
  const selftest::Case& c = m_cases[static_cast<std::size_t>(index)];
  for (cpu::Isa isa : cpu::supportedIsas()) {
    const std::vector<selftest::Result> results = selftest::runCpu(c, isa);
    QVERIFY(results.size() >= 7);
    for (const selftest::Result& r : results)
      QVERIFY2(r.passed, qPrintable(QString("%1 on %2: %3").arg(r.kernel.c_str(), r.backend.c_str(), r.message.c_str())));
  }
}

// The dual kernel must equal the weight-sparse one exactly on the columns it visits: with a NaN
// weight in a column whose input is zero, dual skips it (finite result) while SpMV does not.
void TestKernels::skipsOnlyZeroInputs() {
  const std::int64_t rows = 48, cols = 40;
  std::vector<float> w(static_cast<std::size_t>(rows * cols), 0.0f);  // [rows, cols]
  for (std::int64_t i = 0; i < rows * cols; i += 3) w[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i % 7 + 1);
  w[static_cast<std::size_t>(5 * cols + 7)] = std::numeric_limits<float>::quiet_NaN();  // column 7
  std::vector<float> x(static_cast<std::size_t>(cols), 1.0f);
  x[7] = 0.0f;
  const SparseColumns packed = SparseColumns::pack(w.data(), rows, cols);
  const DenseMatrix colMajor = DenseMatrix::fromRowMajor(w.data(), rows, cols, Layout::ColMajor);
  for (cpu::Isa isa : cpu::supportedIsas()) {
    cpu::setIsa(isa);
    std::vector<float> dual(rows), act(rows), spmv(rows);
    cpu::dualSparseSpmspv(packed.view(), x.data(), dual.data());
    cpu::actSparseGemv(colMajor.view(), x.data(), act.data());
    cpu::weightSparseSpmv(packed.view(), x.data(), spmv.data());
    for (std::int64_t r = 0; r < rows; ++r) {
      QVERIFY2(std::isfinite(dual[r]) && std::isfinite(act[r]), cpu::isaName(isa));
      QCOMPARE(dual[r], act[r]);
    }
    QVERIFY(std::isnan(spmv[5]));  // SpMV multiplies the NaN weight by the zero input
  }
  cpu::setIsa(cpu::supportedIsas().back());
}

// OpenMP splits rows (dense) or the list of records (packed, a strip's columns may fall to several
// threads, whose partial sums are added): any thread count gives the reference's answer, and the
// row-split dense kernel gives bit-identical rows.
void TestKernels::sameResultOnAnyThreadCount() {
  const selftest::Case c = halfSparse(1000, 1200, ValueType::F32, 42);
  const selftest::Problem p = selftest::makeProblem(c);
  PackOptions o;
  o.stripRows = 64;  // 16 strips: three threads split some strips' columns
  const SparseColumns packed = SparseColumns::pack(p.w.data(), c.rows, c.cols, o);
  const DenseMatrix rowMajor = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::RowMajor);
  std::vector<float> ref(c.rows);
  ref::dualSparseSpmspv(packed.view(), p.x.data(), ref.data());
  const int before = omp_get_max_threads();
  std::vector<float> denseOne(c.rows);
  for (int threads : {1, 2, 3, 5}) {
    omp_set_num_threads(threads);
    std::vector<float> y(c.rows, std::nanf("")), dense(c.rows);
    cpu::dualSparseSpmspv(packed.view(), p.x.data(), y.data());
    QVERIFY2(normalisedError(y.data(), ref.data(), y.size()) < 1e-6, qPrintable(QString::number(threads)));
    cpu::denseGemv(rowMajor.view(), p.x.data(), dense.data());
    if (threads == 1) denseOne = dense;
    QVERIFY(dense == denseOne);
  }
  omp_set_num_threads(before);
}

// Every ISA rounds an input to int8 blocks exactly as quantizeInputBlocks defines it (the
// reference's rounding): same scales, same integers, ties to even, a partial last block, an
// all-zero block, a block whose largest magnitude is negative.
void TestKernels::int8InputsRoundLikeTheDefinition() {
  const std::int64_t n = 32 * 6 + 13;
  std::vector<float> x(static_cast<std::size_t>(n));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (float& v : x) v = normal(rng);
  for (std::int64_t j = 32; j < 64; ++j) x[static_cast<std::size_t>(j)] = 0.0f;  // block 1 all zero
  // Block 2: scale exactly 1 (max |x| = 127), halves that round to even.
  for (std::int64_t j = 64; j < 96; ++j) x[static_cast<std::size_t>(j)] = static_cast<float>(j - 80) + 0.5f;
  x[70] = -127.0f;
  const std::int64_t padded = inputBlocks(n) * kInputBlock;
  std::vector<std::int8_t> want(static_cast<std::size_t>(padded)), got(want.size());
  std::vector<float> wantScale(static_cast<std::size_t>(inputBlocks(n))), gotScale(wantScale.size());
  quantizeInputBlocks(x.data(), n, want.data(), wantScale.data());
  QCOMPARE(wantScale[2], 1.0f);
  QCOMPARE(int(want[64 + 16]), 0);   // 0.5 -> 0
  QCOMPARE(int(want[64 + 17]), 2);   // 1.5 -> 2
  QCOMPARE(int(want[64 + 18]), 2);   // 2.5 -> 2
  QCOMPARE(int(want[70]), -127);
  QCOMPARE(int(want[static_cast<std::size_t>(padded - 1)]), 0);  // padding
  for (cpu::Isa isa : cpu::supportedIsas()) {
    cpu::setIsa(isa);
    std::fill(got.begin(), got.end(), std::int8_t{99});
    cpu::quantizeInputs(x.data(), n, got.data(), gotScale.data());
    QVERIFY2(got == want, cpu::isaName(isa));
    QVERIFY2(gotScale == wantScale, cpu::isaName(isa));
  }
  cpu::setIsa(cpu::supportedIsas().back());
}

// Int8 inputs change the product by the inputs' rounding only: on a SmolLM2-sized matrix with
// normal inputs, well under 1% of the f32-input product, on every ISA and every int8 kernel.
void TestKernels::int8InputsStayCloseToF32Inputs() {
  const selftest::Case c = halfSparse(1536, 576, ValueType::I8, 1);
  const selftest::Problem p = selftest::makeProblem(c);
  const DenseMatrix rm = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::RowMajor, ValueType::I8);
  const DenseMatrix cm = DenseMatrix::fromRowMajor(p.w.data(), c.rows, c.cols, Layout::ColMajor, ValueType::I8);
  PackOptions opt;
  opt.type = ValueType::I8;
  const SparseColumns sc = SparseColumns::pack(p.w.data(), c.rows, c.cols, opt);
  std::vector<float> f32(static_cast<std::size_t>(c.rows)), y(f32.size());
  ref::denseGemv(rm.view(), p.x.data(), f32.data());
  DenseView rq = rm.view(), cq = cm.view();
  rq.int8Inputs = cq.int8Inputs = true;
  SparseColumnsView sq = sc.view();
  sq.int8Inputs = true;
  for (cpu::Isa isa : cpu::supportedIsas()) {
    cpu::setIsa(isa);
    cpu::denseGemv(rq, p.x.data(), y.data());
    const double denseErr = normalisedError(y.data(), f32.data(), y.size());
    cpu::actSparseGemv(cq, p.x.data(), y.data());
    const double actErr = normalisedError(y.data(), f32.data(), y.size());
    cpu::dualSparseSpmspv(sq, p.x.data(), y.data());
    const double dualErr = normalisedError(y.data(), f32.data(), y.size());
    qInfo("%s: int8 inputs vs f32 inputs: dense %.2e, act_sparse %.2e, dual_sparse %.2e", cpu::isaName(isa), denseErr,
          actErr, dualErr);
    QVERIFY(denseErr > 0 && denseErr < 1e-2);
    QVERIFY(actErr > 0 && actErr < 1e-2);
    QVERIFY(dualErr > 0 && dualErr < 1e-2);
  }
  cpu::setIsa(cpu::supportedIsas().back());
}

// Bad inputs are rejected the same way by the reference, CPU and CUDA versions (the checks run on
// the host before any device work, so this needs no GPU).
void TestKernels::inputChecks_data() {
  QTest::addColumn<QString>("expected");
  QTest::addColumn<int>("which");
  QTest::newRow("batch 0") << "batch must be in [1, 8], got 0" << 0;
  QTest::newRow("batch 9") << "batch must be in [1, 8], got 9" << 1;
  QTest::newRow("null x") << "input x [1, 8] pointer is null" << 2;
  QTest::newRow("null y") << "output y [1, 4] pointer is null" << 3;
  QTest::newRow("act-sparse on row-major") << "needs a column-major matrix" << 4;
  QTest::newRow("ld too small") << "leading dimension of a row-major [4, 8] matrix must be >= 8, got 5" << 5;
  QTest::newRow("strip height") << "strip height must be a positive multiple of 16, got 20" << 6;
  QTest::newRow("n:m columns") << "N:M needs M in {2, 4, 8, 16}" << 7;
  QTest::newRow("int8 inputs on f32 weights") << "int8 inputs need int8 weights" << 8;
  QTest::newRow("int8 inputs on f32 packed weights") << "int8 inputs need int8 weights" << 9;
}

void TestKernels::inputChecks() {
  QFETCH(QString, expected);
  QFETCH(int, which);
  std::vector<float> w(32, 1.0f), x(64, 1.0f), y(64);
  const DenseMatrix rm = DenseMatrix::fromRowMajor(w.data(), 4, 8, Layout::RowMajor);
  const SparseColumns sc = SparseColumns::pack(w.data(), 4, 8);
  const NmMatrix nm = NmMatrix::pack(w.data(), 4, 8, 4, 4);
  using Fn = std::function<void(int)>;  // backend: 0 ref, 1 cpu, 2 cuda
  Fn call;
  switch (which) {
    case 0:
    case 1: {
      const int batch = which == 0 ? 0 : 9;
      call = [&, batch](int b) {
        if (b == 0) ref::denseGemv(rm.view(), x.data(), y.data(), batch);
        if (b == 1) cpu::denseGemv(rm.view(), x.data(), y.data(), batch);
        if (b == 2) cuda::denseGemv(rm.view(), x.data(), y.data(), batch);
      };
      break;
    }
    case 2:
      call = [&](int b) {
        if (b == 0) ref::dualSparseSpmspv(sc.view(), nullptr, y.data());
        if (b == 1) cpu::dualSparseSpmspv(sc.view(), nullptr, y.data());
        if (b == 2) cuda::dualSparseSpmspv(sc.view(), nullptr, y.data());
      };
      break;
    case 3:
      call = [&](int b) {
        if (b == 0) ref::weightSparseSpmv(nm.view(), x.data(), nullptr);
        if (b == 1) cpu::weightSparseSpmv(nm.view(), x.data(), nullptr);
        if (b == 2) cuda::weightSparseSpmv(nm.view(), x.data(), nullptr);
      };
      break;
    case 4:
      call = [&](int b) {
        if (b == 0) ref::actSparseGemv(rm.view(), x.data(), y.data());
        if (b == 1) cpu::actSparseGemv(rm.view(), x.data(), y.data());
        if (b == 2) cuda::actSparseGemv(rm.view(), x.data(), y.data());
      };
      break;
    case 5:
      call = [&](int b) {
        DenseView v = rm.view();
        v.ld = 5;
        if (b == 0) ref::denseGemv(v, x.data(), y.data());
        if (b == 1) cpu::denseGemv(v, x.data(), y.data());
        if (b == 2) cuda::denseGemv(v, x.data(), y.data());
      };
      break;
    case 6:
      call = [&](int b) {
        SparseColumnsView v = sc.view();
        v.stripRows = 20;
        if (b == 0) ref::weightSparseSpmv(v, x.data(), y.data());
        if (b == 1) cpu::weightSparseSpmv(v, x.data(), y.data());
        if (b == 2) cuda::weightSparseSpmv(v, x.data(), y.data());
      };
      break;
    case 8:
      call = [&](int b) {
        DenseView v = rm.view();
        v.int8Inputs = true;
        if (b == 0) ref::denseGemv(v, x.data(), y.data());
        if (b == 1) cpu::denseGemv(v, x.data(), y.data());
        if (b == 2) cuda::denseGemv(v, x.data(), y.data());
      };
      break;
    case 9:
      call = [&](int b) {
        SparseColumnsView v = sc.view();
        v.int8Inputs = true;
        if (b == 0) ref::dualSparseSpmspv(v, x.data(), y.data());
        if (b == 1) cpu::dualSparseSpmspv(v, x.data(), y.data());
        if (b == 2) cuda::dualSparseSpmspv(v, x.data(), y.data());
      };
      break;
    default:
      call = [&](int b) {
        NmView v = nm.view();
        v.m = 3;
        if (b == 0) ref::dualSparseSpmspv(v, x.data(), y.data());
        if (b == 1) cpu::dualSparseSpmspv(v, x.data(), y.data());
        if (b == 2) cuda::dualSparseSpmspv(v, x.data(), y.data());
      };
      break;
  }
  const bool cudaBuilt = cuda::status().reason.rfind("built without CUDA", 0) != 0;
  for (int backend = 0; backend < (cudaBuilt ? 3 : 2); ++backend) {
    try {
      call(backend);
      QFAIL(qPrintable(QString("backend %1 accepted the bad input").arg(backend)));
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains(expected), e.what());
    }
  }
}

QTEST_GUILESS_MAIN(TestKernels)
#include "test_kernels.moc"
