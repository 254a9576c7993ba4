// SPDX-License-Identifier: GPL-3.0-or-later
// core/prune masks: exact counts (whole tensor, per row, per N:M group) whatever the ties, the
// pruned entries are the lowest-scoring ones, and magnitude / Wanda prune what they promise.
#include <QtTest>

#include "core/common/error.h"
#include "core/prune/magnitude.h"
#include "core/prune/masks.h"
#include "core/prune/wanda.h"

namespace {
// Scores with many ties: small integers.
torch::Tensor tiedScores(int64_t rows, int64_t cols) {
  return torch::randint(0, 4, {rows, cols}, torch::kFloat32);
}
// Within each row-group, every pruned score <= every kept score.
bool lowestPruned(const torch::Tensor& scores, const torch::Tensor& keep) {
  const auto inf = std::numeric_limits<float>::infinity();
  const auto prunedMax = torch::where(keep, torch::full_like(scores, -inf), scores).amax(-1);  // [groups]
  const auto keptMin = torch::where(keep, scores, torch::full_like(scores, inf)).amin(-1);
  return prunedMax.le(keptMin).all().item<bool>();
}
}  // namespace

class TestMasks : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Small problems: OpenMP threads only add contention on the shared 2-core machines.
  void initTestCase() { at::set_num_threads(1); }
  void prunedCountRounds();
  void wholeTensorExact_data();
  void wholeTensorExact();
  void perRowExact_data();
  void perRowExact();
  void nmPerGroup_data();
  void nmPerGroup();
  void magnitudeAndWanda_data();
  void magnitudeAndWanda();
  void rejectsBadSpecs();
  void threadsGiveTheSameMask();
  void weightedScoresMask();
};

void TestMasks::prunedCountRounds() {
  QCOMPARE(duo::prunedCount(128 * 576, 0.5), int64_t(128 * 288));
  QCOMPARE(duo::prunedCount(10, 0.33), int64_t(3));
  QCOMPARE(duo::prunedCount(10, 0.36), int64_t(4));
  QCOMPARE(duo::prunedCount(7, 0.0), int64_t(0));
}

void TestMasks::wholeTensorExact_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  QTest::addColumn<double>("p");
  QTest::addColumn<bool>("ties");
  QTest::newRow("576x128 p0.5") << 576 << 128 << 0.5 << false;
  QTest::newRow("1536x64 p0.7 ties") << 1536 << 64 << 0.7 << true;
  QTest::newRow("33x17 p0.3 ties") << 33 << 17 << 0.3 << true;
  QTest::newRow("8x8 p0") << 8 << 8 << 0.0 << false;
}

void TestMasks::wholeTensorExact() {
  QFETCH(int, rows);
  QFETCH(int, cols);
  QFETCH(double, p);
  QFETCH(bool, ties);
  torch::manual_seed(11);
  const auto s = ties ? tiedScores(rows, cols) : torch::randn({rows, cols});
  const auto keep = duo::keepAllButLowest(s, p);
  QCOMPARE(keep.logical_not().sum().item<int64_t>(), duo::prunedCount(int64_t(rows) * cols, p));
  QVERIFY(lowestPruned(s.reshape({1, -1}), keep.reshape({1, -1})));
}

void TestMasks::perRowExact_data() { wholeTensorExact_data(); }

void TestMasks::perRowExact() {
  QFETCH(int, rows);
  QFETCH(int, cols);
  QFETCH(double, p);
  QFETCH(bool, ties);
  torch::manual_seed(12);
  const auto s = ties ? tiedScores(rows, cols) : torch::randn({rows, cols});
  const auto keep = duo::keepAllButLowestPerRow(s, p);
  QVERIFY(keep.logical_not().sum(1).eq(duo::prunedCount(cols, p)).all().item<bool>());
  QVERIFY(lowestPruned(s, keep));
}

void TestMasks::nmPerGroup_data() {
  QTest::addColumn<QString>("nm");
  QTest::addColumn<bool>("ties");
  QTest::newRow("2:4") << "2:4" << false;
  QTest::newRow("2:4 ties") << "2:4" << true;
  QTest::newRow("4:8") << "4:8" << false;
  QTest::newRow("1:4 ties") << "1:4" << true;
}

void TestMasks::nmPerGroup() {
  QFETCH(QString, nm);
  QFETCH(bool, ties);
  torch::manual_seed(13);
  const auto pat = duo::parseNm(nm.toStdString());
  const int64_t rows = 96, cols = 64;
  const auto s = ties ? tiedScores(rows, cols) : torch::randn({rows, cols});
  const auto keep = duo::keepNm(s, pat);
  const auto groups = keep.reshape({rows, cols / pat.m, pat.m});
  QVERIFY(groups.logical_not().sum(2).eq(pat.n).all().item<bool>());
  QVERIFY(lowestPruned(s.reshape({rows, cols / pat.m, pat.m}), groups));
}

void TestMasks::magnitudeAndWanda_data() {
  QTest::addColumn<QString>("nm");
  QTest::addColumn<double>("p");
  QTest::newRow("unstructured 0.5") << "" << 0.5;
  QTest::newRow("unstructured 0.6") << "" << 0.6;
  QTest::newRow("2:4") << "2:4" << 0.0;
  QTest::newRow("4:8") << "4:8" << 0.0;
}

// Magnitude: exact count over the matrix and the smallest |W| go; Wanda: exact count per row and
// the lowest |W| * ||X_j|| of each row go. Both leave kept weights unchanged.
void TestMasks::magnitudeAndWanda() {
  QFETCH(QString, nm);
  QFETCH(double, p);
  torch::manual_seed(14);
  const duo::MaskSpec spec{p, duo::parseNm(nm.toStdString())};
  const int64_t n = 48, k = 128;
  const auto W = torch::randn({n, k});
  const auto norms = torch::rand({k}) * 10;
  const auto mag = duo::pruneMagnitude(W, spec);
  const auto wan = duo::pruneWanda(W, norms, spec);
  for (const auto* r : {&mag, &wan}) {
    QVERIFY(torch::equal(r->weight, W * r->keep));
    if (spec.nm.structured())
      QVERIFY(r->keep.reshape({n, k / spec.nm.m, spec.nm.m}).logical_not().sum(2).eq(spec.nm.n).all().item<bool>());
  }
  if (!spec.nm.structured()) {
    QCOMPARE(mag.keep.logical_not().sum().item<int64_t>(), duo::prunedCount(n * k, p));
    QVERIFY(lowestPruned(W.abs().reshape({1, -1}), mag.keep.reshape({1, -1})));
    QVERIFY(wan.keep.logical_not().sum(1).eq(duo::prunedCount(k, p)).all().item<bool>());
    QVERIFY(lowestPruned(W.abs() * norms, wan.keep));
  } else {
    const auto g = [&](const torch::Tensor& t) { return t.reshape({n, k / spec.nm.m, spec.nm.m}); };
    QVERIFY(lowestPruned(g(W.abs()), g(mag.keep)));
    QVERIFY(lowestPruned(g(W.abs() * norms), g(wan.keep)));
  }
}

void TestMasks::rejectsBadSpecs() {
  const auto W = torch::randn({4, 6});
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneMagnitude(W, {1.0, {}}));
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneMagnitude(W, {-0.1, {}}));
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneMagnitude(W, {0.5, {2, 4}}));  // 6 % 4 != 0
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneWanda(W, torch::ones({5}), {0.5, {}}));
  try {
    duo::checkMaskSpec({0.5, {2, 4}}, 6, "layer 3 q_proj");
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("layer 3 q_proj") && QString(e.what()).contains("2:4"), e.what());
  }
}

void TestMasks::threadsGiveTheSameMask() {
  // Above 64K entries the selection's passes are split into chunks across the threads: the mask
  // must be the one-thread mask, and of the entries equal to the cut the first in index order go.
  torch::manual_seed(13);
  for (const bool ties : {true, false}) {
    const auto s = ties ? tiedScores(512, 960) : torch::randn({512, 960});
    const double p = 0.55;
    at::set_num_threads(1);
    const auto one = duo::keepAllButLowest(s, p);
    for (const int threads : {2, 3}) {
      at::set_num_threads(threads);
      QVERIFY2(duo::keepAllButLowest(s, p).equal(one), qPrintable(QString("%1 threads").arg(threads)));
    }
    at::set_num_threads(1);
    QCOMPARE(one.logical_not().sum().item<int64_t>(), duo::prunedCount(s.numel(), p));
    if (ties) {
      const auto flat = s.reshape({-1});
      const auto keepFlat = one.reshape({-1});
      const float cut = flat.masked_select(keepFlat.logical_not()).max().item<float>();
      const auto atCut = flat.eq(cut).nonzero().squeeze(1);  // indices of the tied entries, in order
      const auto prunedAtCut = keepFlat.index_select(0, atCut).logical_not().to(torch::kInt64);
      const int64_t np = prunedAtCut.sum().item<int64_t>();
      QVERIFY(np > 0 && np < atCut.numel());  // the cut falls inside the ties
      QCOMPARE(prunedAtCut.narrow(0, 0, np).sum().item<int64_t>(), np);  // the first np of them
    }
  }
}

void TestMasks::weightedScoresMask() {
  // The solver's mask from W's values (W^2 f per row, +inf where pinned) on a strided W, against
  // keepAllButLowest on the same scores built as tensors, at one and two threads.
  torch::manual_seed(14);
  const int64_t rows = 128, cols = 700, ld = 760;
  const auto storage = torch::randn({rows, ld});
  const auto W = storage.narrow(1, 0, cols);  // [rows, cols], row stride ld
  const auto f = torch::rand({rows}) + 0.1;
  const auto pin = torch::rand({rows, cols}) < 0.01;
  auto scores = W.square().mul_(f.unsqueeze(1));
  scores.masked_fill_(pin, std::numeric_limits<double>::infinity());
  const auto want = duo::keepAllButLowest(scores.contiguous(), 0.6);
  for (const int threads : {1, 2}) {
    at::set_num_threads(threads);
    auto keep = torch::empty({rows, cols}, torch::kBool);
    duo::keepAllButLowestWeightedF32(W.data_ptr<float>(), ld, f.data_ptr<float>(), pin.data_ptr<bool>(), rows, cols, 0.6,
                                     keep.data_ptr<bool>());
    QVERIFY(keep.equal(want));
    QVERIFY(keep.masked_select(pin).all().item<bool>());
  }
  at::set_num_threads(1);
}

QTEST_APPLESS_MAIN(TestMasks)
#include "test_masks.moc"
