// SPDX-License-Identifier: GPL-3.0-or-later
// core/common: errors carry context, atomic writes leave the old file intact on failure,
// progress callbacks cancel; file hashes are remembered by the file's identity.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/progress.h"
#include "core/common/sha256.h"
#include "core/common/model_hash.h"

class TestCommon : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void errorCarriesContext();
  void atomicWriteReplaces();
  void atomicWriteFailureKeepsOldFile();
  void readMissingFileNamesPath();
  void progressCancels();
  void sha256KnownAnswers_data();
  void sha256KnownAnswers();
  void fileHashesAreRememberedByIdentity();
};

void TestCommon::errorCarriesContext() {
  try {
    try {
      duo::fail("expected [", 4, ", ", 8, "], got [4, 7]");
    } catch (...) {
      duo::rethrowWithContext("layer 3 q_proj");
    }
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    QCOMPARE(QString(e.what()), QString("layer 3 q_proj: expected [4, 8], got [4, 7]"));
  }
}

void TestCommon::atomicWriteReplaces() {
  QTemporaryDir dir;
  const std::string p = dir.filePath("a.json").toStdString();
  duo::writeFileAtomic(p, std::string("first"));
  duo::writeFileAtomic(p, std::string("second"));
  QCOMPARE(QString::fromStdString(duo::readFile(p)), QString("second"));
  QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()),
                         std::filesystem::directory_iterator{}),
           1L);  // no temp files left behind
}

void TestCommon::atomicWriteFailureKeepsOldFile() {
  QTemporaryDir dir;
  const std::string p = dir.filePath("b.bin").toStdString();
  duo::writeFileAtomic(p, std::string("intact"));
  bool threw = false;
  try {
    duo::writeFileAtomic(p, [](std::ostream& os) {
      os << "half-written";
      throw duo::Cancelled();
    });
  } catch (const duo::Cancelled&) {
    threw = true;
  }
  QVERIFY(threw);
  QCOMPARE(QString::fromStdString(duo::readFile(p)), QString("intact"));
  QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()),
                         std::filesystem::directory_iterator{}),
           1L);
}

void TestCommon::readMissingFileNamesPath() {
  try {
    duo::readFile("/nonexistent/duo/file.json");
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    QVERIFY(QString(e.what()).contains("/nonexistent/duo/file.json"));
  }
}

void TestCommon::progressCancels() {
  int calls = 0;
  duo::ProgressFn fn = [&](const duo::Progress& p) { return ++calls < 3 && p.done >= 0; };
  duo::reportProgress(fn, {"x", "", 0, 10});
  duo::reportProgress(fn, {"x", "", 1, 10});
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::reportProgress(fn, {"x", "", 2, 10}));
}

void TestCommon::sha256KnownAnswers_data() {
  QTest::addColumn<QByteArray>("input");
  QTest::addColumn<QString>("digest");
  // FIPS 180-4 examples.
  QTest::newRow("empty") << QByteArray("") << "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  QTest::newRow("abc") << QByteArray("abc") << "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  QTest::newRow("two-blocks") << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                              << "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
  QTest::newRow("million-a") << QByteArray(1000000, 'a') << "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
}

void TestCommon::sha256KnownAnswers() {
  QFETCH(QByteArray, input);
  QFETCH(QString, digest);
  QCOMPARE(QString::fromStdString(duo::sha256Hex(input.toStdString())), digest);
}

void TestCommon::fileHashesAreRememberedByIdentity() {
  QTemporaryDir dir;
  const QByteArray oldCache = qgetenv("DUO_CACHE_DIR");
  qputenv("DUO_CACHE_DIR", dir.filePath("cache").toUtf8());
  const std::string f = dir.filePath("w.safetensors").toStdString();
  duo::writeFileAtomic(f, std::string("weights one"));
  bool hit = true;
  const std::string first = duo::sha256FileCached(f, &hit);
  QVERIFY(!hit);
  QCOMPARE(first, duo::sha256File(f));
  QVERIFY(std::filesystem::exists(dir.filePath("cache/file-hashes.json").toStdString()));
  QCOMPARE(duo::sha256FileCached(f, &hit), first);
  QVERIFY(hit);
  // Same size, new content and time: a new identity, read again.
  duo::writeFileAtomic(f, std::string("weights two"));
  const std::string second = duo::sha256FileCached(f, &hit);
  QVERIFY(!hit);
  QCOMPARE(second, duo::sha256File(f));
  QVERIFY(second != first);
  // Only the time changes (touch): read again, same sum.
  std::filesystem::last_write_time(f, std::filesystem::last_write_time(f) + std::chrono::seconds(5));
  QCOMPARE(duo::sha256FileCached(f, &hit), second);
  QVERIFY(!hit);
  // A folder model's hash goes through the same cache, and a broken cache file is only a miss.
  duo::writeFileAtomic(dir.filePath("cache/file-hashes.json").toStdString(), std::string("{ not json"));
  const std::string folderHash = duo::modelContentHash(dir.path().toStdString());
  QCOMPARE(duo::modelContentHash(dir.path().toStdString()), folderHash);
  QCOMPARE(duo::sha256FileCached(f, &hit), second);
  QVERIFY(hit);
  if (oldCache.isNull()) qunsetenv("DUO_CACHE_DIR");
  else qputenv("DUO_CACHE_DIR", oldCache);
}

QTEST_GUILESS_MAIN(TestCommon)
#include "test_common.moc"
