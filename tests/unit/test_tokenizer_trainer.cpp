// SPDX-License-Identifier: GPL-3.0-or-later
// duo::trainByteLevelBpe: deterministic (reproduces the committed tests/data/tokenizers/
// duo-bytelevel-512.json byte for byte; the PyPI `tokenizers` library encodes that file exactly as
// we do, see test_tokenizer), cancellable, within its vocabulary bound, fast on the KJV text.
//
// DUO_WRITE_TOKENIZER_DATA=1 rewrites the committed file instead of comparing (then rerun
// tests/reference/make_tokenizer_refs.py).
#include <QTemporaryDir>
#include <QtTest>
#include <chrono>
#include <fstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/model/tokenizer/tokenizer.h"

namespace {
std::string dataDir() {
  const char* v = std::getenv("DUO_TEST_DATA_DIR");
  return std::string(v ? v : "") + "/tokenizers";
}
}  // namespace

class TestTokenizerTrainer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void reproducesCommittedFile();
  void layoutAndRoundTrip_data();
  void layoutAndRoundTrip();
  void cancels();
  void refusesBadVocabSize();
  void kjvCalibAt1024();
};

void TestTokenizerTrainer::reproducesCommittedFile() {
  const std::string sample = duo::readFile(dataDir() + "/kjv-sample.txt");
  const auto tok = duo::trainByteLevelBpe(sample, 512);
  const std::string committed = dataDir() + "/duo-bytelevel-512.json";
  if (std::getenv("DUO_WRITE_TOKENIZER_DATA") != nullptr) {
    tok->saveTokenizerJson(committed);
    QSKIP("wrote tests/data/tokenizers/duo-bytelevel-512.json (DUO_WRITE_TOKENIZER_DATA set)");
  }
  QTemporaryDir dir;
  const std::string path = dir.filePath("tokenizer.json").toStdString();
  tok->saveTokenizerJson(path);
  QVERIFY2(duo::readFile(path) == duo::readFile(committed), "training is not deterministic or the writer changed");
  // And once more in the same process (no state leaks between runs).
  QVERIFY(duo::trainByteLevelBpe(sample, 512)->toJsonString() == tok->toJsonString());
}

void TestTokenizerTrainer::layoutAndRoundTrip_data() {
  QTest::addColumn<int>("vocab");
  QTest::newRow("258 (bytes only)") << 258;
  QTest::newRow("300") << 300;
  QTest::newRow("1024") << 1024;
}

void TestTokenizerTrainer::layoutAndRoundTrip() {
  QFETCH(int, vocab);
  const std::string sample = duo::readFile(dataDir() + "/kjv-sample.txt");
  const auto tok = duo::trainByteLevelBpe(sample, vocab);
  QVERIFY(tok->vocabSize() <= vocab);
  QVERIFY(tok->vocabSize() >= 258);
  QCOMPARE(tok->kind(), std::string("bpe-bytelevel"));
  QCOMPARE(tok->tokenText(0), std::string("<|bos|>"));
  QCOMPARE(tok->tokenText(1), std::string("<|eos|>"));
  QCOMPARE(tok->bosId(), 0);
  QCOMPARE(tok->eosId(), 1);
  QVERIFY(!tok->addsBos());
  QCOMPARE(tok->tokenBytes(2 + 'A'), std::string("A"));  // ids 2..257: the bytes in order
  QCOMPARE(tok->tokenBytes(2 + 0xFF), std::string("\xFF"));
  const auto ids = tok->encode(sample, false);
  QVERIFY(tok->decode(ids) == sample);
  if (vocab == 258) QCOMPARE(ids.size(), sample.size());  // no merges: one token per byte
  if (vocab == 300) QVERIFY(ids.size() < sample.size() * 3 / 4);  // 42 merges already help
  if (vocab == 1024) QVERIFY(ids.size() < sample.size() / 3);
  // Reading the written file back gives the same tokenizer.
  const auto again = duo::Tokenizer::fromJsonString(tok->toJsonString(), "trained.json");
  QVERIFY(again->encode(sample, true) == tok->encode(sample, true));
  QCOMPARE(again->bosId(), 0);
  QCOMPARE(again->eosId(), 1);
}

void TestTokenizerTrainer::cancels() {
  const std::string sample = duo::readFile(dataDir() + "/kjv-sample.txt");
  int64_t calls = 0;
  bool sawTotal = false;
  const duo::ProgressFn stopAt10 = [&](const duo::Progress& p) {
    sawTotal = sawTotal || (p.stage == "train-tokenizer" && p.total == 512 - 258);
    return ++calls < 10;
  };
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::trainByteLevelBpe(sample, 512, stopAt10));
  QCOMPARE(calls, int64_t(10));
  QVERIFY(sawTotal);
}

void TestTokenizerTrainer::refusesBadVocabSize() {
  try {
    duo::trainByteLevelBpe("abc", 100);
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("vocabSize expected in [258"), e.what());
  }
  // A tiny text runs out of pairs seen twice long before the requested size.
  QCOMPARE(duo::trainByteLevelBpe("abab", 1000)->vocabSize(), int64_t(259));
  QCOMPARE(duo::trainByteLevelBpe("", 1000)->vocabSize(), int64_t(258));
}

// The tiny model's setting: 3 MB of KJV at vocab 1024 must train in well under a minute.
void TestTokenizerTrainer::kjvCalibAt1024() {
  const std::string path = duo::cacheDir() + "/corpus/kjv-calib.txt";
  if (!std::ifstream(path).good()) QSKIP("kjv-calib.txt absent (scripts/setup.sh derives it)");
  const std::string text = duo::readFile(path);
  const auto t0 = std::chrono::steady_clock::now();
  const auto tok = duo::trainByteLevelBpe(text, 1024);
  const double trainS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto ids = tok->encode(text, false);
  qInfo("kjv-calib: %zu bytes, trained vocab %lld in %.2f s, %zu tokens (%.2f bytes/token)", text.size(),
        static_cast<long long>(tok->vocabSize()), trainS, ids.size(), double(text.size()) / ids.size());
  QCOMPARE(tok->vocabSize(), int64_t(1024));
  QVERIFY2(trainS < 30.0, "training took more than 30 s");
  QVERIFY(tok->decode(ids) == text);
}

QTEST_GUILESS_MAIN(TestTokenizerTrainer)
#include "test_tokenizer_trainer.moc"
