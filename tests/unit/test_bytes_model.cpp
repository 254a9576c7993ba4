// core/perf bytes model: per-kernel byte counts agree with what the packer actually builds, the
// ideal dual-sparse ratio is the ~3.7x the issue quotes, the cheapest kernel follows the sparsity,
// and the end-to-end decode prediction is Amdahl's law over the non-sparse parts.
#include <QtTest>
#include <cmath>
#include <random>

#include "core/common/error.h"
#include "core/perf/bytes_model.h"
#include "kernels/sparse_columns.h"

using namespace duo::perf;
namespace k = duo::kernels;

Q_DECLARE_METATYPE(duo::perf::Kernel)

class TestBytesModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void matchesPackedBytes_data();
  void matchesPackedBytes();
  void idealDualRatio();
  void cheapestKernel_data();
  void cheapestKernel();
  void decodeIsAmdahl_data();
  void decodeIsAmdahl();
  void decodeDenseIsOne();
  void rejectsBadInput();
};

void TestBytesModel::matchesPackedBytes_data() {
  QTest::addColumn<double>("pw");
  QTest::addColumn<QString>("type");
  for (double pw : {0.0, 0.5, 0.9, 0.97})
    for (const char* t : {"f32", "f16"}) QTest::addRow("w%.2f %s", pw, t) << pw << QString(t);
}

void TestBytesModel::matchesPackedBytes() {
  QFETCH(double, pw);
  QFETCH(QString, type);
  const std::int64_t rows = 1000, cols = 700;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w) v = u(rng) < pw ? 0.0f : 1.0f + static_cast<float>(u(rng));
  k::PackOptions o;
  o.type = k::parseValueType(type.toStdString());
  o.stripRows = 512;
  const k::SparseColumns packed = k::SparseColumns::pack(w.data(), rows, cols, o);
  MatVec m{rows, cols, pw, 0.0, o.type, 512};
  QCOMPARE(predictedIndex(m), packed.index());
  const Bytes b = kernelBytes(Kernel::WeightSparse, m);
  const k::SparseBytes actual = packed.bytes();
  // The model assumes exactly (1 - pw) kept; a random mask deviates by a few standard deviations.
  const double tol = 0.02 * static_cast<double>(actual.total()) + 64;
  QVERIFY2(std::fabs(b.values + b.index + b.offsets - static_cast<double>(actual.total())) < tol,
           qPrintable(QString("model %1, packed %2").arg(b.values + b.index + b.offsets).arg(actual.total())));
  QCOMPARE(b.offsets, static_cast<double>(actual.offsets));
  QCOMPARE(b.activations, 4.0 * cols);
  QCOMPARE(b.outputs, 4.0 * rows);
  // Dual reads the active columns' share of the records; x and y stay whole.
  m.pA = 0.5;
  const Bytes d = kernelBytes(Kernel::DualSparse, m);
  QCOMPARE(d.values, 0.5 * b.values);
  QCOMPARE(d.index, 0.5 * b.index);
  QCOMPARE(d.activations, b.activations);
}

void TestBytesModel::idealDualRatio() {
  // The figure: 4096 x 11008 f32 at W50% + A50% with a bitmap is ~3.7x fewer bytes.
  const MatVec m{4096, 11008, 0.5, 0.5, k::ValueType::F32, 1024};
  QCOMPARE(predictedIndex(m), k::IndexKind::Bitmap);
  const double ratio = kernelBytes(Kernel::BlasDense, m).total() / kernelBytes(Kernel::DualSparse, m).total();
  QVERIFY2(ratio > 3.6 && ratio < 3.8, qPrintable(QString::number(ratio)));
  const double act = kernelBytes(Kernel::Dense, m).total() / kernelBytes(Kernel::ActSparse, m).total();
  QVERIFY2(act > 1.99 && act < 2.0, qPrintable(QString::number(act)));
  QCOMPARE(predictSeconds(kernelBytes(Kernel::Dense, m), 20.0), kernelBytes(Kernel::Dense, m).total() / 20e9);
}

void TestBytesModel::cheapestKernel_data() {
  QTest::addColumn<double>("pw");
  QTest::addColumn<double>("pa");
  QTest::addColumn<Kernel>("expected");
  QTest::newRow("dense") << 0.0 << 0.0 << Kernel::Dense;
  QTest::newRow("activations only") << 0.0 << 0.5 << Kernel::ActSparse;
  QTest::newRow("weights only") << 0.5 << 0.0 << Kernel::WeightSparse;
  QTest::newRow("both") << 0.5 << 0.5 << Kernel::DualSparse;
  QTest::newRow("few pruned weights") << 0.02 << 0.5 << Kernel::ActSparse;  // a bitmap costs more than 2% of values
  QTest::newRow("both, sparse") << 0.9 << 0.3 << Kernel::DualSparse;
}

void TestBytesModel::cheapestKernel() {
  QFETCH(double, pw);
  QFETCH(double, pa);
  QFETCH(Kernel, expected);
  const MatVec m{1536, 576, pw, pa, k::ValueType::F32, 768};
  QCOMPARE(static_cast<int>(duo::perf::cheapestKernel(m)), static_cast<int>(expected));
}

void TestBytesModel::decodeIsAmdahl_data() {
  QTest::addColumn<double>("pw");
  QTest::addColumn<double>("pa");
  QTest::addColumn<int>("context");
  for (double pw : {0.5, 0.7})
    for (double pa : {0.0, 0.5})
      for (int ctx : {0, 256, 2048}) QTest::addRow("w%.1f a%.1f ctx%d", pw, pa, ctx) << pw << pa << ctx;
}

void TestBytesModel::decodeIsAmdahl() {
  QFETCH(double, pw);
  QFETCH(double, pa);
  QFETCH(int, context);
  DecodeInput in;
  in.shape = smolLm2Shape();
  LayerSparsity layer;
  layer.fill(SparsityPoint{pw, pa});
  in.layers = {layer};  // repeated for every layer
  in.contextTokens = context;
  in.bandwidthGbs = 20.0;
  const DecodePrediction p = predictDecode(in);
  // Amdahl: 1 / ((1 - share) + share / projectionSpeedup).
  const double amdahl = 1.0 / ((1.0 - p.sparsifiableShare) + p.sparsifiableShare / p.projectionSpeedup);
  QVERIFY(std::fabs(p.speedup - amdahl) < 1e-9 * amdahl);
  QVERIFY(p.speedup > 1.0);
  QVERIFY(p.speedup < p.projectionSpeedup);
  // The untouched parts are the same in both runs; a longer context only lowers the speedup.
  QCOMPARE(p.sparseSeconds.lmHead, p.denseSeconds.lmHead);
  QCOMPARE(p.sparseSeconds.attention, p.denseSeconds.attention);
  in.contextTokens = context + 1000;
  QVERIFY(predictDecode(in).speedup < p.speedup);
  // SmolLM2's lm_head (49152 x 576) is a fifth of the dense step's weight bytes: it caps the gain.
  QVERIFY(p.denseSeconds.lmHead / p.denseSeconds.total() > 0.15);
}

void TestBytesModel::decodeDenseIsOne() {
  DecodeInput in;
  in.shape = smolLm2Shape();
  const DecodePrediction p = predictDecode(in);
  QCOMPARE(p.speedup, 1.0);
  QVERIFY(p.tokensPerSecondDense() > 0.0);
  // 30 layers of 7 projections at f32 + lm_head, at 20 GB/s: about 27 ms a token.
  const double weights = 30.0 * (576.0 * 576 * 2 + 192.0 * 576 * 2 + 1536.0 * 576 * 3) + 49152.0 * 576;
  QVERIFY(std::fabs(p.denseSeconds.projections + p.denseSeconds.lmHead - 4.0 * weights / 20e9) <
          0.01 * p.denseSeconds.total());
}

void TestBytesModel::rejectsBadInput() {
  bool threw = false;
  try {
    kernelBytes(Kernel::Dense, MatVec{10, 10, 1.5, 0.0});
  } catch (const duo::Error& e) {
    threw = QString(e.what()).contains("sparsities must be in [0, 1]");
  }
  QVERIFY(threw);
  threw = false;
  try {
    predictSeconds(Bytes{}, 0.0);
  } catch (const duo::Error& e) {
    threw = QString(e.what()).contains("bandwidth must be positive");
  }
  QVERIFY(threw);
  threw = false;
  try {
    predictDecode(DecodeInput{});
  } catch (const duo::Error& e) {
    threw = QString(e.what()).contains("incomplete model shape");
  }
  QVERIFY(threw);
}

QTEST_GUILESS_MAIN(TestBytesModel)
#include "test_bytes_model.moc"
