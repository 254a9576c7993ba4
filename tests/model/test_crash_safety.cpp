// SPDX-License-Identifier: GPL-3.0-or-later
// A `duoscope-cli prune --out DIR` killed with SIGKILL at any point of its run (loading,
// calibrating, evaluating, writing the checkpoint, writing the run record) leaves nothing
// half-written where a user or a later run looks: DIR is absent or a complete checkpoint that
// `info` accepts, every run record in the store parses, and the next run to the same DIR succeeds
// and removes the dead process's partial folder. The kill points are spread over the measured
// length of a whole run, so they land in every stage across the sweep.
#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

QString cli() { return QString::fromLocal8Bit(std::getenv("DUO_CLI")); }
QString tinyDir() { return QString::fromLocal8Bit(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }

QStringList pruneArgs(const QString& out, const QString& runs) {
  return {"prune", "--model", tinyDir(), "--method", "duogpt", "--w-sparsity", "0.5", "--a-sparsity", "0.5",
          "--nsamples", "16", "--seqlen", "64", "--eval", "--max-windows", "8", "--out", out, "--runs-dir", runs};
}

int runToEnd(const QStringList& args, QString* err = nullptr) {
  QProcess p;
  p.start(cli(), args);
  p.waitForFinished(600000);
  if (err) *err = QString::fromUtf8(p.readAllStandardError());
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

// Partial folders beside `out` (<name>.partial-<pid>-...).
int partialsBeside(const QString& out) {
  const fs::path target = out.toStdString();
  int n = 0;
  if (!fs::exists(target.parent_path())) return 0;
  for (const auto& e : fs::directory_iterator(target.parent_path()))
    if (e.path().filename().string().rfind(target.filename().string() + ".partial-", 0) == 0) ++n;
  return n;
}

}  // namespace

class TestCrashSafety : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void killAtEveryStageLeavesNothingHalfWritten() {
    if (cli().isEmpty() || !QFile::exists(cli())) QSKIP("DUO_CLI not set: run through CTest");
    QTemporaryDir tmp;
    const QString runs = tmp.filePath("runs");
    // A whole run, timed: the kill points are fractions of it.
    QElapsedTimer clock;
    clock.start();
    QString err;
    QCOMPARE(runToEnd(pruneArgs(tmp.filePath("whole"), runs), &err), 0);
    QVERIFY2(fs::exists((tmp.filePath("whole") + "/model.safetensors").toStdString()), qPrintable(err));
    // Timed again, warm (the first run also fills the page cache): the shorter one sets the points.
    const qint64 first = clock.restart();
    QCOMPARE(runToEnd(pruneArgs(tmp.filePath("whole"), runs), &err), 0);
    const qint64 whole = std::min(first, clock.elapsed());
    std::printf("BENCH crash_safety whole_run_ms=%lld\n", static_cast<long long>(whole));

    int killedMidRun = 0;
    const QString out = tmp.filePath("pruned");
    for (double f : {0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.8, 0.9, 1.0}) {
      QProcess p;
      p.start(cli(), pruneArgs(out, runs));
      QVERIFY(p.waitForStarted(30000));
      QTest::qWait(static_cast<int>(f * static_cast<double>(whole)));
      const bool wasRunning = p.state() == QProcess::Running;
      p.kill();  // SIGKILL: no handler runs, no cleanup
      if (p.state() != QProcess::NotRunning) QVERIFY2(p.waitForFinished(60000), qPrintable(QString("kill at %1").arg(f)));
      killedMidRun += wasRunning ? 1 : 0;

      // DIR: absent, or a whole checkpoint `info` accepts with its duoscope.json.
      if (fs::exists(out.toStdString())) {
        QCOMPARE(runToEnd({"info", "--model", out, "--json"}, &err), 0);
        QVERIFY2(fs::exists((out + "/duoscope.json").toStdString()), "a checkpoint without its duoscope.json");
        QVERIFY(nlohmann::json::parse(std::ifstream((out + "/duoscope.json").toStdString()), nullptr, false).is_object());
      }
      // The store: every record parses (runs list reads them all and fails on none).
      QProcess list;
      list.start(cli(), {"runs", "list", "--runs-dir", runs, "--json"});
      QVERIFY(list.waitForFinished(60000));
      QCOMPARE(list.exitCode(), 0);
      QVERIFY2(list.readAllStandardError().trimmed().isEmpty(), "runs list complained about a record");
      for (const auto& e : fs::directory_iterator(runs.toStdString()))
        if (e.path().extension() == ".json")
          QVERIFY2(nlohmann::json::parse(std::ifstream(e.path()), nullptr, false).is_object(), e.path().c_str());
      std::printf("BENCH crash_safety kill_at=%.2f running=%d checkpoint=%d partials=%d\n", f, wasRunning ? 1 : 0,
                  fs::exists(out.toStdString()) ? 1 : 0, partialsBeside(out));
    }
    QVERIFY2(killedMidRun >= 5, "most kills must land while the run is still going");
    // Each killed run is listed as interrupted (its marker outlived its process), none lost.
    QProcess list;
    list.start(cli(), {"runs", "list", "--runs-dir", runs, "--json"});
    QVERIFY(list.waitForFinished(60000));
    const auto listed = nlohmann::json::parse(list.readAllStandardOutput().toStdString());
    // The two whole runs, any that finished before their kill, and any killed after saving their
    // record; a kill in the first moments, before the run began, leaves no marker.
    const int finished = int(listed.at("runs").size()), interrupted = int(listed.at("interrupted").size());
    QVERIFY(finished >= 2 + (9 - killedMidRun));
    QVERIFY2(interrupted >= 1 && interrupted <= killedMidRun && finished + interrupted <= 2 + 9,
             qPrintable(QString("%1 finished, %2 interrupted").arg(finished).arg(interrupted)));
    for (const auto& i : listed.at("interrupted"))
      for (const auto& r : listed.at("runs")) QVERIFY(i.at("id") != r.at("id"));  // never both
    QCOMPARE(listed.at("interrupted").at(0).at("status").get<std::string>(), std::string("interrupted"));
    QCOMPARE(listed.at("interrupted").at(0).at("out").get<std::string>(), out.toStdString());

    // The next run to the same DIR succeeds and clears the dead runs' partial folders.
    QCOMPARE(runToEnd(pruneArgs(out, runs), &err), 0);
    QVERIFY2(fs::exists((out + "/model.safetensors").toStdString()), qPrintable(err));
    QCOMPARE(partialsBeside(out), 0);
  }
};

QTEST_GUILESS_MAIN(TestCrashSafety)
#include "test_crash_safety.moc"
