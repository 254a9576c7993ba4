// SPDX-License-Identifier: GPL-3.0-or-later
// core/prune activation sparsity: topk zeroes the exact per-token count of smallest |x|; the
// threshold rule's calibrated magnitude hits its target fraction on held-out inputs (tolerance
// 0.005 absolute); thresholds survive a JSON round trip and reject malformed files; zeroCount
// agrees with count_nonzero.
#include <QtTest>

#include <limits>

#include "core/common/error.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/act_thresholds.h"

namespace {
// LLM-like inputs [tokens, k]: heavy-tailed entries (Gaussian times a log-normal) with per-channel
// scales spread over two decades (outlier channels).
torch::Tensor activations(int64_t tokens, int64_t k, const torch::Tensor& channelScale) {
  return torch::randn({tokens, k}) * torch::exp(0.5 * torch::randn({tokens, k})) * channelScale;
}
}  // namespace

class TestActSparsity : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Small problems: OpenMP threads only add contention on the shared 2-core machines.
  void initTestCase() { at::set_num_threads(1); }
  void topkExactPerToken_data();
  void topkExactPerToken();
  void topkCpuPathMatchesTopk();
  void zeroCountMatchesCountNonzero();
  void thresholdHitsHeldOut_data();
  void thresholdHitsHeldOut();
  void thresholdCountsExactZeros();
  void thresholdsJsonRoundTrip();
  void rejectsBadInput();
};

void TestActSparsity::topkExactPerToken_data() {
  QTest::addColumn<int>("k");
  QTest::addColumn<double>("p");
  QTest::addColumn<bool>("ties");
  QTest::addColumn<bool>("f64");
  QTest::newRow("k576 p0.5") << 576 << 0.5 << false << false;
  QTest::newRow("k1536 p0.7") << 1536 << 0.7 << false << false;
  QTest::newRow("k64 p0.25 ties") << 64 << 0.25 << true << false;
  QTest::newRow("k10 p0.33 f64") << 10 << 0.33 << false << true;
  QTest::newRow("k576 p0") << 576 << 0.0 << false << false;
}

// Every token loses exactly round(p k) entries, and every zeroed |x| <= every kept |x|.
void TestActSparsity::topkExactPerToken() {
  QFETCH(int, k);
  QFETCH(double, p);
  QFETCH(bool, ties);
  QFETCH(bool, f64);
  torch::manual_seed(21);
  auto x = ties ? (torch::randint(1, 4, {3, 50, k}) * (torch::randint(0, 2, {3, 50, k}) * 2 - 1)).to(torch::kFloat32)
                : torch::randn({3, 50, k});  // [batch, seq, k], no exact zeros
  if (f64) x = x.to(torch::kFloat64);
  const auto xs = duo::sparsifyTopK(x, p);
  QCOMPARE(xs.sizes(), x.sizes());
  QCOMPARE(xs.scalar_type(), x.scalar_type());
  const int64_t nZero = duo::topkZeroCount(k, p);
  QCOMPARE(nZero, int64_t(std::llround(p * k)));
  QVERIFY(xs.eq(0).sum(-1).eq(nZero).all().item<bool>());
  const auto zeroed = xs.eq(0);
  QVERIFY(torch::equal(xs, x * zeroed.logical_not()));  // kept entries unchanged
  const double inf = std::numeric_limits<double>::infinity();
  const auto zeroedMax = torch::where(zeroed, x.abs(), torch::full_like(x, -inf)).amax(-1);
  const auto keptMin = torch::where(zeroed, torch::full_like(x, inf), x.abs()).amin(-1);
  QVERIFY(zeroedMax.le(keptMin).all().item<bool>());
}

// The CPU f32 path (topkZeroRow: the cut by bisection per token) zeroes exactly the entries LibTorch's topk picks when
// there are no ties, with several threads, and like topk puts NaN above every magnitude.
void TestActSparsity::topkCpuPathMatchesTopk() {
  torch::manual_seed(5);
  at::set_num_threads(2);
  auto x = torch::randn({7, 33, 1536});
  x[2][5][100] = std::numeric_limits<float>::quiet_NaN();
  const int64_t nZero = duo::topkZeroCount(1536, 0.5);
  const auto idx = std::get<1>(x.abs().topk(nZero, -1, /*largest=*/false, /*sorted=*/false));
  const auto expected = x.scatter(-1, idx, 0.0);
  const auto got = duo::sparsifyTopK(x, 0.5);
  at::set_num_threads(1);
  QVERIFY(torch::equal(got.isnan(), expected.isnan()));
  QVERIFY(torch::equal(got.nan_to_num(0.0), expected.nan_to_num(0.0)));
  QVERIFY(std::isnan(got[2][5][100].item<float>()));  // the NaN is kept, never zeroed first
}

// zeroCount (the achieved sparsity's numerator) on the raw path (f32, contiguous, more than one
// parallel part and a ragged tail) and the fallback (a strided view, f64): +0 and -0 count, NaN,
// infinities and denormals do not.
void TestActSparsity::zeroCountMatchesCountNonzero() {
  torch::manual_seed(9);
  auto x = torch::randn({3 * 65536 + 1234});
  x.masked_fill_(torch::rand(x.sizes()).lt(0.3), 0.0);
  x[5] = -0.0f;
  x[6] = std::numeric_limits<float>::quiet_NaN();
  x[7] = std::numeric_limits<float>::infinity();
  x[8] = std::numeric_limits<float>::denorm_min();
  const auto expect = [](const torch::Tensor& t) { return t.numel() - torch::count_nonzero(t).item<int64_t>(); };
  QCOMPARE(duo::zeroCount(x), expect(x));
  QVERIFY(expect(x) > 50000);
  const auto strided = x.narrow(0, 0, 2 * 65536).view({2, 65536}).t();
  QCOMPARE(duo::zeroCount(strided), expect(strided));
  QCOMPARE(duo::zeroCount(x.to(torch::kFloat64)), expect(x));
  QCOMPARE(duo::zeroCount(torch::empty({0})), int64_t(0));
}

void TestActSparsity::thresholdHitsHeldOut_data() {
  QTest::addColumn<double>("p");
  QTest::addColumn<int>("k");
  for (double p : {0.25, 0.5, 0.7, 0.9}) QTest::newRow(qPrintable(QString("p%1 k256").arg(p))) << p << 256;
  QTest::newRow("p0.5 k1536") << 0.5 << 1536;
}

// A threshold calibrated on 8 batches of 512 tokens zeroes p of a fresh 4096-token sample from the
// same distribution within 0.005 (sampling error alone is ~0.0005 at these sizes).
void TestActSparsity::thresholdHitsHeldOut() {
  QFETCH(double, p);
  QFETCH(int, k);
  torch::manual_seed(22);
  const auto channelScale = torch::pow(10.0, 2.0 * torch::rand({k}) - 1.0);  // [k]
  duo::ThresholdCalibrator cal;
  for (int b = 0; b < 8; ++b) cal.addBatch(activations(512, k, channelScale));
  QCOMPARE(cal.count(), int64_t(8) * 512 * k);
  const float t = cal.threshold(p);
  const auto heldOut = activations(4096, k, channelScale);
  const auto xs = duo::sparsifyThreshold(heldOut, t);
  const double frac = xs.eq(0).to(torch::kFloat64).mean().item<double>();
  qInfo("p %.2f: threshold %.5f zeroes %.5f of held-out inputs", p, double(t), frac);
  QVERIFY2(std::abs(frac - p) <= 0.005, qPrintable(QString("zeroed %1, target %2").arg(frac).arg(p)));
  // Thresholds grow with p, and an entry exactly at t is kept (the rule is |x| < t).
  QVERIFY(cal.threshold(std::min(p + 0.05, 0.99)) > t);
  QCOMPARE(duo::sparsifyThreshold(torch::full({1}, t), t).item<float>(), t);
}

// Exact zeros count toward the target: when they already make up p, nothing else is zeroed.
void TestActSparsity::thresholdCountsExactZeros() {
  torch::manual_seed(23);
  auto x = torch::randn({1000, 64});
  x.masked_fill_(torch::rand({1000, 64}).lt(0.3), 0.0);  // ~30 % exact zeros
  duo::ThresholdCalibrator cal;
  cal.addBatch(x);
  QCOMPARE(cal.threshold(0.2), 0.0f);
  const float t = cal.threshold(0.6);
  QVERIFY(std::abs(duo::sparsifyThreshold(x, t).eq(0).to(torch::kFloat64).mean().item<double>() - 0.6) < 0.002);
  cal.free();
  QCOMPARE(cal.count(), int64_t(0));
  QVERIFY_THROWS_EXCEPTION(duo::Error, cal.threshold(0.5));
}

void TestActSparsity::thresholdsJsonRoundTrip() {
  duo::ActThresholds t;
  t.resize(3);
  t.set(0, duo::Site::Qkv, 0.125f);
  t.set(2, duo::Site::Down, 3.5f);
  t.set(1, duo::Site::GateUp, 1e-3f);
  const auto j = t.toJson();
  QVERIFY(j["layers"][2].contains("down"));
  const auto back = duo::ActThresholds::fromJson(nlohmann::json::parse(j.dump()), 3);
  QCOMPARE(back.numLayers(), 3);
  QCOMPARE(back.layers, t.layers);
  QCOMPARE(back.at(2, duo::Site::Down), 3.5f);
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::ActThresholds::fromJson(j, 4));  // wrong layer count
  auto bad = j;
  bad["layers"][1].erase("o");
  try {
    duo::ActThresholds::fromJson(bad);
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("layer 1") && QString(e.what()).contains("\"o\""), e.what());
  }
  bad = j;
  bad["layers"][0]["qkv"] = -1.0;
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::ActThresholds::fromJson(bad));
  QVERIFY_THROWS_EXCEPTION(duo::Error, t.at(3, duo::Site::O));
}

void TestActSparsity::rejectsBadInput() {
  const auto x = torch::randn({4, 8});
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::sparsifyTopK(x, 1.0));
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::sparsifyTopK(x, -0.5));
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::sparsifyThreshold(x, -1.0f));
  duo::ThresholdCalibrator cal;
  cal.addBatch(x);
  QVERIFY_THROWS_EXCEPTION(duo::Error, cal.threshold(1.0));
}

QTEST_APPLESS_MAIN(TestActSparsity)
#include "test_act_sparsity.moc"
