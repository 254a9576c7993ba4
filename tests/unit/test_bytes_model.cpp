// SPDX-License-Identifier: GPL-3.0-or-later
// core/engine bytes model: per-kernel byte counts agree with what the packer actually builds, the
// ideal dual-sparse ratio is the ~3.7x the issue quotes, the cheapest kernel follows the sparsity,
// and the end-to-end decode prediction is Amdahl's law over the non-sparse parts.
#include <QtTest>
#include <cmath>
#include <random>

#include "core/common/error.h"
#include <QTemporaryDir>
#include <fstream>

#include "core/bench/calibrate_timing.h"
#include "core/engine/bytes_model.h"
#include "core/engine/timing_profile.h"
#include "kernels/matvec.h"
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
  void profileLinesDrivePrediction();
  void fastestKernelFollowsProfile();
  void int8InputsChooseDenseOrActSparse();
  void fitRecoversLines();
  void profileFilesRoundTripAndErrors();
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
  // The issue's figure: 4096 x 11008 f32 at W50% + A50% with a bitmap is ~3.7x fewer bytes.
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

// With int8 inputs, where the packed formats' int8-input kernels are slow (every ISA but
// avx512-vnni), only dense and act-sparse are chosen: a pruned matrix with sparse inputs goes to
// act-sparse (not dual), one with dense inputs stays dense, and the prediction reads more. On
// avx512-vnni the choice is the f32-input one's.
void TestBytesModel::int8InputsChooseDenseOrActSparse() {
  const k::cpu::Isa initial = k::cpu::activeIsa();
  for (k::cpu::Isa isa : k::cpu::supportedIsas()) {
    k::cpu::setIsa(isa);
    const bool atSpeed = isa == k::cpu::Isa::Avx512Vnni;
    QCOMPARE(k::cpu::packedInt8InputsAtSpeed(), atSpeed);
    MatVec m{1536, 576, 0.5, 0.5, k::ValueType::I8, 0};
    QCOMPARE(static_cast<int>(duo::perf::cheapestKernel(m)), static_cast<int>(Kernel::DualSparse));
    m.int8Inputs = true;
    const Kernel sparse = atSpeed ? Kernel::DualSparse : Kernel::ActSparse;
    QCOMPARE(static_cast<int>(duo::perf::cheapestKernel(m)), static_cast<int>(sparse));
    QCOMPARE(static_cast<int>(duo::perf::fastestKernel(m, nullptr)), static_cast<int>(sparse));
    m.pA = 0.0;
    QCOMPARE(static_cast<int>(duo::perf::cheapestKernel(m)), static_cast<int>(atSpeed ? Kernel::WeightSparse : Kernel::Dense));
    DecodeInput in;
    in.shape = smolLm2Shape();
    in.weightType = k::ValueType::I8;
    LayerSparsity layer;
    layer.fill(SparsityPoint{0.5, 0.5});
    in.layers = {layer};
    const double packed = predictDecode(in).speedup;
    in.int8Inputs = true;
    const double q8 = predictDecode(in).speedup;
    if (atSpeed)
      QCOMPARE(q8, packed);
    else
      QVERIFY2(q8 > 1.0 && q8 < packed, qPrintable(QString("%1 vs %2").arg(q8).arg(packed)));
  }
  k::cpu::setIsa(initial);
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

namespace {

duo::perf::ModelShape smallShape() {
  duo::perf::ModelShape s;
  s.layers = 2;
  s.hidden = 64;
  s.heads = 4;
  s.kvHeads = 2;
  s.headDim = 16;
  s.ffn = 128;
  s.vocab = 256;
  return s;
}

// A profile for smallShape(): the same four lines at every shape, topk 1 us (width 64) and 2 us
// (width 128), the rest of the step 50 us at context 256.
duo::perf::TimingProfile smallProfile() {
  duo::perf::TimingProfile p;
  p.source = "small.json";
  p.threads = 2;
  p.readBandwidthGbs = 25;
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{{64, 64}, {32, 64}, {128, 64}, {64, 128}, {256, 64}}) {
    duo::perf::ShapeTiming st;
    st.rows = r;
    st.cols = c;
    st.kernels[static_cast<size_t>(Kernel::Dense)] = {2, 10};
    st.kernels[static_cast<size_t>(Kernel::ActSparse)] = {3, 20};
    st.kernels[static_cast<size_t>(Kernel::WeightSparse)] = {4, 15};
    st.kernels[static_cast<size_t>(Kernel::DualSparse)] = {5, 30};
    p.shapes.push_back(st);
  }
  p.topkUs = {{64, 1.0}, {128, 2.0}};
  p.otherUs = 50;
  p.otherContext = 256;
  return p;
}

}  // namespace

void TestBytesModel::profileLinesDrivePrediction() {
  const duo::perf::ModelShape s = smallShape();
  const duo::perf::TimingProfile prof = smallProfile();
  duo::perf::DecodeInput in;
  in.shape = s;
  in.contextTokens = 256;
  in.timing = &prof;
  duo::perf::LayerSparsity layer{};
  for (auto& p : layer) p = {0.5, 0.5};
  in.layers = {layer};
  const duo::perf::DecodePrediction pred = duo::perf::predictDecode(in);
  // By hand: each projection's fastest line at its bytes, the lm_head's dense line, topk once per
  // site and layer (q/k/v and gate/up share a site), the measured rest of the step.
  double dense = 50e-6, sparse = 50e-6;
  duo::perf::MatVec head;
  head.rows = 256;
  head.cols = 64;
  const double headS = prof.shape(256, 64).at(Kernel::Dense).seconds(duo::perf::kernelBytes(Kernel::Dense, head).total());
  dense += headS;
  sparse += headS;
  for (int l = 0; l < s.layers; ++l) {
    for (int q = 0; q < duo::perf::kProjections; ++q) {
      duo::perf::MatVec m = duo::perf::projectionShape(s, static_cast<duo::perf::Projection>(q));
      const auto& st = prof.shape(m.rows, m.cols);
      dense += st.at(Kernel::Dense).seconds(duo::perf::kernelBytes(Kernel::Dense, m).total());
      m.pW = m.pA = 0.5;
      double best = 1e9;
      for (Kernel k : {Kernel::Dense, Kernel::ActSparse, Kernel::WeightSparse, Kernel::DualSparse})
        best = std::min(best, st.at(k).seconds(duo::perf::kernelBytes(k, m).total()));
      sparse += best;
    }
    sparse += (1.0 + 1.0 + 1.0 + 2.0) * 1e-6;  // topk: q/k/v (64), o (64), gate/up (64), down (128)
  }
  QVERIFY(std::abs(pred.denseSeconds.total() - dense) < 1e-12);
  QVERIFY(std::abs(pred.sparseSeconds.total() - sparse) < 1e-12);
  QVERIFY(std::abs(pred.sparseSeconds.sparsify - 2 * 5e-6) < 1e-15);
  // A longer context adds only the extra KV-cache reads, at the profile's read bandwidth.
  in.contextTokens = 512;
  const double kv = 2.0 * 2 * 16 * 4;  // k and v of one token, 2 kv heads x 16 dims x f32
  QVERIFY(std::abs(duo::perf::predictDecode(in).denseSeconds.total() - dense - s.layers * kv * 256 / 25e9) < 1e-12);
  // Dense config: speedup exactly 1, no topk.
  in.layers.clear();
  QCOMPARE(duo::perf::predictDecode(in).speedup, 1.0);
}

void TestBytesModel::fastestKernelFollowsProfile() {
  duo::perf::MatVec m;
  m.rows = 64;
  m.cols = 64;
  m.pW = 0.5;
  m.pA = 0.5;
  QVERIFY(duo::perf::fastestKernel(m, nullptr) == duo::perf::cheapestKernel(m));
  QVERIFY(duo::perf::cheapestKernel(m) == Kernel::DualSparse);
  duo::perf::TimingProfile prof = smallProfile();
  prof.shapes[0].kernels[static_cast<size_t>(Kernel::DualSparse)] = {500, 30};  // a slow dual kernel
  QVERIFY(duo::perf::fastestKernel(m, &prof) == Kernel::ActSparse);
  m.pA = 0;  // nothing to skip in x: never the activation-sparse kernels
  const Kernel k = duo::perf::fastestKernel(m, &prof);
  QVERIFY(k == Kernel::Dense || k == Kernel::WeightSparse);
  m.rows = 48;  // a shape the profile has not timed
  try {
    (void)duo::perf::kernelSeconds(Kernel::Dense, m, 20, &prof);
    QFAIL("expected an error");
  } catch (const duo::Error& e) {
    QVERIFY(QString(e.what()).contains("small.json"));
    QVERIFY(QString(e.what()).contains("48x64"));
    QVERIFY(QString(e.what()).contains("bench calibrate"));
  }
}

void TestBytesModel::fitRecoversLines() {
  // t = 5 us + bytes / (20 GB/s): recovered exactly.
  std::vector<std::pair<double, double>> pts;
  for (double b : {1e5, 3e5, 7e5, 2e6}) pts.emplace_back(b, 5 + b / 20e3);
  duo::perf::CostLine l = duo::perf::fitCostLine(pts);
  QVERIFY(std::abs(l.fixedUs - 5) < 1e-9 && std::abs(l.gbs - 20) < 1e-9);
  // Equal bytes (a dense kernel at every point): a line through the origin at the mean time.
  l = duo::perf::fitCostLine({{1e6, 40}, {1e6, 60}});
  QCOMPARE(l.fixedUs, 0.0);
  QVERIFY(std::abs(l.seconds(1e6) - 50e-6) < 1e-12);
  // A negative intercept is not a cost: through the origin instead.
  l = duo::perf::fitCostLine({{1e5, 1}, {1e6, 100}});
  QCOMPARE(l.fixedUs, 0.0);
  QVERIFY(l.gbs > 0);
}

void TestBytesModel::profileFilesRoundTripAndErrors() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("t.json").toStdString();
  const duo::perf::TimingProfile p = smallProfile();
  duo::perf::saveTimingProfile(path, p);
  const duo::perf::TimingProfile back = duo::perf::loadTimingProfile(path);
  QCOMPARE(duo::perf::timingProfileJson(back), duo::perf::timingProfileJson(p));
  QCOMPARE(back.source, path);
  auto expectError = [&](const std::string& text, const char* says) {
    const std::string bad = dir.filePath("bad.json").toStdString();
    std::ofstream(bad) << text;
    try {
      (void)duo::perf::loadTimingProfile(bad);
      QFAIL(qPrintable(QString("no error for: %1").arg(QString::fromStdString(text))));
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains(QString::fromStdString(bad)), e.what());
      QVERIFY2(QString(e.what()).contains(says), e.what());
    }
  };
  expectError("{not json", "not valid JSON");
  expectError(R"({"schema": "duoscope.sensitivity/1"})", "duoscope.timing/1");
  expectError(R"({"schema": "duoscope.timing/1", "read_bandwidth_gbs": 20, "topk": [],
                  "shapes": [{"rows": 4, "cols": 4, "kernels": {"dense": {"fixed_us": -1, "gbs": 3}}}]})",
              "fixed_us");
  expectError(R"({"schema": "duoscope.timing/1", "read_bandwidth_gbs": 20, "topk": [],
                  "shapes": [{"rows": 4, "cols": 4, "kernels": {"act_sparse": {"fixed_us": 1, "gbs": 3}}}]})",
              "dense");
  expectError(R"({"schema": "duoscope.timing/1", "read_bandwidth_gbs": 20, "topk": [], "shapes": []})", "no shapes");
  expectError(R"({"schema": "duoscope.timing/1", "topk": [], "shapes": []})", "missing");
  QVERIFY_EXCEPTION_THROWN((void)duo::perf::loadTimingProfile(dir.filePath("none.json").toStdString()), duo::Error);
}

QTEST_GUILESS_MAIN(TestBytesModel)
#include "test_bytes_model.moc"
