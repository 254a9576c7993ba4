// Decode speed of the bundled tiny model in our engine, dense against W50% + A50% through the packed
// dual-sparse kernels (core/perf/decode_bench.h), printed as benchmark lines. No timing asserts (the
// machine is shared): only that both runs happened and that the packed logits agree with LibTorch's.
#include <QtTest>

#include "core/model/model_loader.h"
#include "core/perf/decode_bench.h"

class TestBenchDecode : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void tinyDenseVsPacked_data();
  void tinyDenseVsPacked();
};

void TestBenchDecode::tinyDenseVsPacked_data() {
  QTest::addColumn<double>("weight");
  QTest::addColumn<double>("act");
  QTest::addColumn<int>("batch");
  QTest::newRow("w50 a50 batch 1") << 0.5 << 0.5 << 1;
  QTest::newRow("w50 a50 batch 4") << 0.5 << 0.5 << 4;
  QTest::newRow("w70 a70 batch 1") << 0.7 << 0.7 << 1;
}

void TestBenchDecode::tinyDenseVsPacked() {
  QFETCH(double, weight);
  QFETCH(double, act);
  QFETCH(int, batch);
  duo::perf::DecodeBenchConfig c;
  c.model = "tiny";
  c.wSparsity = weight;
  c.aSparsity = act;
  c.batch = batch;
  c.tokens = 32;
  c.repeats = 3;
  c.context = 32;
  const auto r = duo::perf::runDecodeBench(c);
  qInfo("BENCH tiny decode w%.2f a%.2f batch %d: LibTorch %.0f tok/s, dense (our kernels) %.0f tok/s, packed %.0f "
        "tok/s; measured %.2fx (best %.2fx), predicted %.2fx; load %.1f",
        weight, act, batch, r.torchTokensPerSecond, r.denseTokensPerSecond, r.prunedTokensPerSecond, r.measuredSpeedup,
        r.bestSpeedup, r.predictedSpeedup, r.loadAfter);
  QCOMPARE(static_cast<int>(r.denseStepSeconds.size()), c.repeats);
  QCOMPARE(static_cast<int>(r.prunedStepSeconds.size()), c.repeats);
  QVERIFY(r.denseTokensPerSecond > 0 && r.prunedTokensPerSecond > 0 && r.torchTokensPerSecond > 0);
  QVERIFY(std::abs(r.weightSparsity - weight) < 0.01);
  QVERIFY(r.predictedSpeedup > 1.0);
  // The tiny model's dense step (projections + lm_head, f32) is a few MiB: it stays in the cache, and
  // the result says the bytes model does not apply (any x86 server LLC is larger than that).
  const auto& mc = duo::loadModel("tiny", torch::kCPU).model->config();
  QVERIFY(r.denseStepBytes > 4.0 * static_cast<double>(mc.vocabSize * mc.hiddenSize));
  QVERIFY(r.denseStepBytes < 16.0 * 1048576.0);
  QCOMPARE(r.cacheResident, r.denseStepBytes <= r.lastLevelCacheBytes);
  // The packed decode computes what the LibTorch decode with the same hook computes (f32, other
  // summation order): see tests/unit/test_packed_decode.cpp for the tolerance.
  QVERIFY2(r.maxLogitDiff < 2e-4 && r.logitScale > 1.0, qPrintable(QString::number(r.maxLogitDiff)));
}

QTEST_APPLESS_MAIN(TestBenchDecode)
#include "test_bench_decode.moc"
