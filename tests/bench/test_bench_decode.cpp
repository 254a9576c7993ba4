// SPDX-License-Identifier: GPL-3.0-or-later
// Decode speed of the bundled tiny model in our engine, dense against W50% + A50% through the packed
// dual-sparse kernels (core/bench/decode_bench.h), printed as benchmark lines. No timing asserts (the
// machine is shared): only that both runs happened and that the packed logits agree with LibTorch's.
#include <QtTest>

#include <cmath>

#include <omp.h>

#include "core/bench/decode_bench.h"
#include "core/model/model_loader.h"

namespace {
// The tiny model's W50% + A50% decode with the engine's quality pass on 2 windows of 64 tokens of
// kjv:eval, in `values`, timed over `tokens` tokens and `repeats` repeats on `threads` threads.
duo::perf::DecodeBenchConfig tinyWithQuality(duo::kernels::ValueType values, int tokens, int repeats, int context,
                                             int threads) {
  duo::perf::DecodeBenchConfig c;
  c.model = "tiny";
  c.values = values;
  c.tokens = tokens;
  c.repeats = repeats;
  c.context = context;
  c.threads = threads;
  c.torchBaseline = false;
  c.qualityCorpus = "kjv:eval";
  c.qualityWindows = 2;
  c.qualitySeqlen = 64;
  return c;
}
}  // namespace

class TestBenchDecode : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void tinyDenseVsPacked_data();
  void tinyDenseVsPacked();
  void tinyValueFormats_data();
  void tinyValueFormats();
  void qualityIsReproducible();
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

void TestBenchDecode::tinyValueFormats_data() {
  QTest::addColumn<QString>("values");
  QTest::newRow("f32") << "f32";
  QTest::newRow("bf16") << "bf16";
  QTest::newRow("int8") << "int8";
}

// The same W50% + A50% decode with the weights stored as f32, bf16 and int8 (one scale per row):
// tokens/s, the bytes a dense step reads, and the engine's own perplexity on kjv:eval with those
// values against f32 values (one thread: the comparison is exact arithmetic, not summation order).
void TestBenchDecode::tinyValueFormats() {
  QFETCH(QString, values);
  const duo::perf::DecodeBenchConfig c = tinyWithQuality(duo::kernels::parseValueType(values.toStdString()), 32, 3, 32, 1);
  const auto r = duo::perf::runDecodeBench(c);
  const double ratio = r.qualityPerplexity / r.qualityF32Perplexity;
  qInfo("BENCH tiny decode %s values w0.50 a0.50, 1 thread: dense %.0f tok/s, packed %.0f tok/s (%.2fx); dense step "
        "%.2f MB; kjv:eval perplexity through the engine %.4f (f32 values %.4f, %+.2f%%)",
        qPrintable(values), r.denseTokensPerSecond, r.prunedTokensPerSecond, r.measuredSpeedup, r.denseStepBytes / 1e6,
        r.qualityPerplexity, r.qualityF32Perplexity, 100 * (ratio - 1));
  QVERIFY(r.denseTokensPerSecond > 0 && r.prunedTokensPerSecond > 0);
  QCOMPARE(r.qualityTokens, static_cast<std::int64_t>(2 * 63));
  QVERIFY(r.qualityPerplexity > 1.0 && std::isfinite(r.qualityPerplexity));
  // The step's bytes follow the value size: f32 4, bf16 2, int8 1 (+ a scale per row) per weight
  // (the rows run in this order, f32 first).
  static double f32Bytes = 0;
  if (c.values == duo::kernels::ValueType::F32) f32Bytes = r.denseStepBytes;
  QVERIFY(f32Bytes > 0);
  const double share = r.denseStepBytes / f32Bytes;
  if (c.values == duo::kernels::ValueType::BF16) QVERIFY2(std::abs(share - 0.5) < 1e-9, qPrintable(QString::number(share)));
  if (c.values == duo::kernels::ValueType::I8) QVERIFY2(share > 0.25 && share < 0.27, qPrintable(QString::number(share)));
  if (c.values == duo::kernels::ValueType::F32)
    QCOMPARE(r.qualityPerplexity, r.qualityF32Perplexity);
  else
    QVERIFY2(std::abs(ratio - 1) < 0.05, qPrintable(QString::number(ratio)));  // rounding, not a broken decode
}

// The quality pass runs on one thread whatever --threads says, so that it is reproducible: two
// runs at 2 threads and one at 1 give the same perplexities.
void TestBenchDecode::qualityIsReproducible() {
  duo::perf::DecodeBenchConfig c = tinyWithQuality(duo::kernels::ValueType::I8, 4, 1, 16, 2);
  const auto a = duo::perf::runDecodeBench(c);
  QCOMPARE(omp_get_max_threads(), 2);  // restored after the quality pass
  const auto b = duo::perf::runDecodeBench(c);
  c.threads = 1;
  const auto one = duo::perf::runDecodeBench(c);
  QCOMPARE(a.qualityPerplexity, b.qualityPerplexity);
  QCOMPARE(a.qualityF32Perplexity, b.qualityF32Perplexity);
  QCOMPARE(a.qualityPerplexity, one.qualityPerplexity);
  QCOMPARE(a.qualityF32Perplexity, one.qualityF32Perplexity);
}

QTEST_APPLESS_MAIN(TestBenchDecode)
#include "test_bench_decode.moc"
