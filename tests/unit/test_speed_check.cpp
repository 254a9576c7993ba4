// SPDX-License-Identifier: GPL-3.0-or-later
// The measured-speedup check (core/io/speed_check.h): spread from interleaved pairs, each trust
// flag raised by the case it names and only by it, the JSON round trip the run record and the CLI
// carry, and the per-machine history of dense speeds.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>

#include "core/common/error.h"
#include "core/io/run_record.h"
#include "core/io/speed_check.h"

using duo::SpeedCheck;
using duo::SpeedSample;

namespace {
// A memory-bound model (bytes far above the cache), dense at its expected speed, pairs that
// agree to 1%: nothing to flag.
SpeedSample quietSample() {
  SpeedSample s;
  s.denseStepSeconds = {0.030, 0.0301, 0.0299, 0.0300, 0.0302};  // ~33.3 tokens/s
  s.prunedStepSeconds = {0.020, 0.0200, 0.0201, 0.0199, 0.0201};
  s.tokens = 32;
  s.threads = 2;
  s.expectedDenseTokensPerSecond = 50;  // dense at 67% of the bytes model: normal on this machine
  s.denseStepBytes = 538e6;
  s.lastLevelCacheBytes = 32e6;
  return s;
}
}  // namespace

class TestSpeedCheck : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void spreadIsTheQuartilesOfThePairRatios() {
    double med = 0, lo = 0, hi = 0;
    // Ratios 1, 2, 3, 4, 5 (dense / pruned per pair): median 3, quartiles 2 and 4.
    duo::pairRatioStats({1, 2, 3, 4, 5}, {1, 1, 1, 1, 1}, &med, &lo, &hi);
    QCOMPARE(med, 3.0);
    QCOMPARE(lo, 2.0);
    QCOMPARE(hi, 4.0);
    // Even count: numpy's linear interpolation (ratios 1, 2, 3, 4 -> 2.5, 1.75, 3.25).
    duo::pairRatioStats({2, 4, 6, 8}, {2, 2, 2, 2}, &med, &lo, &hi);
    QCOMPARE(med, 2.5);
    QCOMPARE(lo, 1.75);
    QCOMPARE(hi, 3.25);
    QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pairRatioStats({1, 2}, {1}, &med, &lo, &hi));
  }

  void quietMemoryBoundMeasurementIsTrusted() {
    const SpeedCheck c = duo::assessSpeed(quietSample(), {33.0, 33.5, 32.8});
    QVERIFY2(c.trusted(), c.warning().c_str());
    QVERIFY(std::abs(c.speedup - 1.5) < 0.02);
    QVERIFY(c.low <= c.speedup && c.speedup <= c.high);
    QCOMPARE(c.repeats, 5);
    QCOMPARE(c.threads, 2);
    QVERIFY(std::abs(c.denseTokensPerSecond - 1 / 0.0300) < 1e-9);
    QVERIFY(c.summary().find("1.50x") == 0);
    QVERIFY(c.summary().find("5 pairs, 2 threads") != std::string::npos);
  }

  void cacheResidentModelIsFlagged() {
    SpeedSample s = quietSample();
    s.denseStepBytes = 6.8e6;  // the bundled tiny model
    const SpeedCheck c = duo::assessSpeed(s, {});
    QVERIFY(!c.trusted());
    QCOMPARE(c.flags, std::vector<std::string>{"cache_resident"});
    QVERIFY(c.notes.at(0).find("6.8 MB") != std::string::npos);
  }

  void starvedDenseBaselineIsFlagged() {
    // The case: dense at 187 tokens/s where the machine's bandwidth allows ~1800.
    SpeedSample s = quietSample();
    s.expectedDenseTokensPerSecond = 10 * (1 / 0.030);
    const SpeedCheck c = duo::assessSpeed(s, {});
    QCOMPARE(c.flags, std::vector<std::string>{"dense_slow"});
    // At 40% of the expectation (above kDenseSlowFraction) it is not.
    s.expectedDenseTokensPerSecond = (1 / 0.030) / 0.40;
    QVERIFY(duo::assessSpeed(s, {}).trusted());
  }

  void denseOffItsHistoryIsFlagged() {
    const SpeedSample s = quietSample();  // 33.3 tokens/s
    QCOMPARE(duo::assessSpeed(s, {60.0, 61.0, 59.0}).flags, std::vector<std::string>{"dense_off_history"});
    QCOMPARE(duo::assessSpeed(s, {15.0, 16.0, 14.0}).flags, std::vector<std::string>{"dense_off_history"});
    // Within the factor, or fewer than kHistoryMinEntries earlier runs: no flag.
    QVERIFY(duo::assessSpeed(s, {40.0, 41.0, 39.0}).trusted());
    QVERIFY(duo::assessSpeed(s, {60.0, 61.0}).trusted());
  }

  void noisyPairsAreFlagged() {
    SpeedSample s = quietSample();
    s.prunedStepSeconds = {0.015, 0.020, 0.025, 0.018, 0.028};  // ratios 2.0 .. 1.07
    const SpeedCheck c = duo::assessSpeed(s, {});
    QCOMPARE(c.flags, std::vector<std::string>{"noisy"});
    QVERIFY(c.relativeSpread() > SpeedCheck::kNoisySpread);
  }

  void jsonRoundTripAndRunRecord() {
    SpeedSample s = quietSample();
    s.denseStepBytes = 6.8e6;
    const SpeedCheck c = duo::assessSpeed(s, {});
    const SpeedCheck back = SpeedCheck::fromJson(c.toJson(), "test");
    QCOMPARE(back.toJson().dump(), c.toJson().dump());
    QCOMPARE(c.toJson().at("trusted").get<bool>(), false);
    QVERIFY_THROWS_EXCEPTION(duo::Error, SpeedCheck::fromJson(nlohmann::json::array(), "x"));
    nlohmann::json bad = c.toJson();
    bad["flags"] = "cache_resident";
    QVERIFY_THROWS_EXCEPTION(duo::Error, SpeedCheck::fromJson(bad, "x"));

    // The run record keeps it under speed.measurement; a record without one reads as unchecked.
    duo::RunRecord rec;
    rec.id = "20261202-000000-000-duogpt";
    rec.method = "duogpt";
    rec.sparsity = duo::SparsityConfig::uniform(2, 0.5, 0.5);
    rec.measuredSpeedup = c.speedup;
    rec.speedCheck = c;
    const nlohmann::json j = rec.toJson();
    QCOMPARE(j.at("speed").at("measurement").at("flags").at(0).get<std::string>(), std::string("cache_resident"));
    const duo::RunRecord r2 = duo::RunRecord::fromJson(j, "test");
    QVERIFY(r2.speedCheck && r2.speedCheck->hasFlag("cache_resident"));
    nlohmann::json old = j;
    old["speed"].erase("measurement");
    QVERIFY(!duo::RunRecord::fromJson(old, "test").speedCheck);
  }

  void historyKeepsTheLastEntriesPerKey() {
    QTemporaryDir tmp;
    const std::string path = (tmp.path() + "/state/decode-history.json").toStdString();
    duo::SpeedHistory h(path);
    QVERIFY(h.lookup("k").empty());
    for (int i = 1; i <= 25; ++i) h.add("k", i);
    h.add("other", 7);
    const std::vector<double> k = h.lookup("k");
    QCOMPARE(k.size(), duo::SpeedHistory::kKeep);
    QCOMPARE(k.front(), 6.0);
    QCOMPARE(k.back(), 25.0);
    QCOMPARE(h.lookup("other"), std::vector<double>{7.0});
    // A corrupt file reads as empty and is replaced by the next add; a disabled history does nothing.
    std::ofstream(path) << "{not json";
    QVERIFY(h.lookup("k").empty());
    h.add("k", 3);
    QCOMPARE(h.lookup("k"), std::vector<double>{3.0});
    duo::SpeedHistory off("");
    off.add("k", 1);
    QVERIFY(off.lookup("k").empty());
    qputenv("DUO_SPEED_HISTORY", "off");
    QCOMPARE(duo::SpeedHistory::defaultPath(), std::string());
    qputenv("DUO_SPEED_HISTORY", QByteArray::fromStdString(path));
    QCOMPARE(duo::SpeedHistory::defaultPath(), path);
  }
};

QTEST_APPLESS_MAIN(TestSpeedCheck)
#include "test_speed_check.moc"
