// SPDX-License-Identifier: GPL-3.0-or-later
// A window killed mid-run loses nothing it had saved: the real `duoscope` binary, calibrating the
// bundled model, is killed with SIGKILL while its run runs; the next window offers the autosaved
// workspace (model, data settings, run folder), lists the killed run as interrupted, shows no
// half-written checkpoint, and restores the setup on Restore. Later keeps the offer for the next
// start, Discard drops it, and a window that closed in order leaves nothing to offer.
#include <QDirIterator>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <csignal>

#include "core/io/window_session.h"
#include "gui_test_util.h"
#include "core/io/workspace.h"
#include "ui/main_window.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/runs_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/run_store.h"
#include "ui/workspace_autosave.h"

using duo::ui::MainWindow;
using namespace duo::test;

namespace {
QString tinyModel() { return qEnvironmentVariable("DUO_RESOURCES_DIR") + "/models/duo-tiny-kjv"; }

// Files under `dir` (recursively) whose name matches `glob`.
QStringList filesUnder(const QString& dir, const QString& glob) {
  QStringList out;
  QDirIterator it(dir, {glob}, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
  while (it.hasNext()) out << it.next();
  return out;
}

QMessageBox* restoreOffer(MainWindow& w) { return w.findChild<QMessageBox*>("restoreOffer"); }

// Rows of the runs list marked interrupted.
int interruptedRows(MainWindow& w) {
  QTableWidget* t = w.runsPanel()->table();
  int n = 0;
  for (int r = 0; r < t->rowCount(); ++r) n += t->item(r, 0)->data(Qt::UserRole + 1).toBool();
  return n;
}

// A session whose process is gone, with `ws` as its autosave, in `dir` (as a killed window leaves).
void leaveDeadSession(const QString& dir, const duo::Workspace& ws) {
  QProcess p;
  p.start("sleep", {"0.05"});
  QVERIFY(p.waitForStarted(10000));
  const QString pid = QString::number(p.processId());
  QVERIFY(p.waitForFinished(10000));
  QDir().mkpath(dir);
  QFile lock(dir + "/session-" + pid + "-0.lock");
  QVERIFY(lock.open(QIODevice::WriteOnly));
  lock.write(QString("{\"schema\": \"duoscope.session/1\", \"pid\": %1, \"started\": \"2026-12-03T08:00:00Z\", "
                     "\"autosave\": \"autosave-%1-0.json\"}").arg(pid).toUtf8());
  lock.close();
  duo::saveWorkspace((dir + "/autosave-" + pid + "-0.json").toStdString(), ws);
}
}  // namespace

class TestWindowRestore : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { useTestSettings("test_window_restore"); }

  void killedWindowIsOfferedAndRestored() {
    const QString gui = qEnvironmentVariable("DUO_GUI");
    QVERIFY2(QFile::exists(gui), "DUO_GUI (the duoscope binary) is not set: run through CTest");
    QVERIFY2(QFile::exists(tinyModel() + "/config.json"), "the bundled tiny model is not in DUO_RESOURCES_DIR");
    QTemporaryDir tmp;
    // The child's own settings: data settings unlike this process's, a run long enough to kill.
    const QString config = tmp.filePath("config"), data = tmp.filePath("data");
    {
      QSettings s(config + "/DuoScope/DuoScope.conf", QSettings::IniFormat);
      s.setValue("data/calib", "kjv:calib");
      s.setValue("data/nsamples", 48);
      s.setValue("data/seqlen", 128);
      s.setValue("data/seed", 7);
      s.setValue("data/eval", true);
      s.setValue("data/maxWindows", 4);
      s.sync();
    }
    QProcess child;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("XDG_CONFIG_HOME", config);
    env.insert("XDG_DATA_HOME", data);
    env.insert("XDG_STATE_HOME", tmp.filePath("state"));
    env.insert("QT_QPA_PLATFORM", "offscreen");
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::ForwardedChannels);
    child.start(gui, {"--model", tinyModel(), "--calibrate"});
    QVERIFY(child.waitForStarted(10000));
    // Killed as soon as its run is under way (the run marker is written when the run starts).
    QStringList markers;
    QVERIFY2(QTest::qWaitFor([&] { return !(markers = filesUnder(data, "*.running")).isEmpty() || child.state() == QProcess::NotRunning; }, 120000),
             "the window never started its run");
    QVERIFY2(child.state() == QProcess::Running, "the window exited before its run was killed");
    QTest::qWait(300);  // into the calibration
    ::kill(static_cast<pid_t>(child.processId()), SIGKILL);
    QVERIFY(child.waitForFinished(10000));
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);

    const QString runsDir = QFileInfo(markers.first()).absolutePath();
    const QString workspace = QFileInfo(runsDir).absolutePath();
    QCOMPARE(filesUnder(workspace, "session-*.lock").size(), 1);
    QCOMPARE(filesUnder(workspace, "autosave-*.json").size(), 1);
    // No checkpoint of the killed run at a final path: the weights folder holds partial ones only.
    for (const QString& d : QDir(runsDir + "/weights").entryList(QDir::Dirs | QDir::NoDotAndDotDot))
      QVERIFY2(d.contains(".partial-"), qPrintable("a checkpoint of the killed run is visible: " + d));

    {
      MainWindow w(nullptr, runsDir);
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      QTRY_VERIFY_WITH_TIMEOUT(restoreOffer(w) != nullptr, 10000);
      QMessageBox* box = restoreOffer(w);
      QVERIFY2(box->text().contains(QString::number(child.processId())) || box->text().contains("did not close"), qPrintable(box->text()));
      QVERIFY2(box->informativeText().contains("duo-tiny-kjv"), qPrintable(box->informativeText()));
      QVERIFY2(box->informativeText().contains("1 interrupted"), qPrintable(box->informativeText()));
      // The run store is readable and the killed run is listed as interrupted.
      QCOMPARE(interruptedRows(w), 1);
      QCOMPARE(w.runStore()->runs().size(), 0);
      QVERIFY(w.findChild<QSpinBox*>("seed")->value() != 7);  // this process's settings, before Restore
      QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
      box->findChild<QPushButton*>("restoreButton")->click();
      QVERIFY(opened.wait(60000));
      QCOMPARE(QDir(QString::fromStdString(w.modelPanel()->model().path)).canonicalPath(), QDir(tinyModel()).canonicalPath());
      QCOMPARE(w.findChild<QSpinBox*>("seed")->value(), 7);
      QCOMPARE(w.findChild<QSpinBox*>("nsamples")->value(), 48);
      QCOMPARE(w.findChild<QSpinBox*>("seqlen")->value(), 128);
      QCOMPARE(w.runStore()->directory(), runsDir);
      QCOMPARE(interruptedRows(w), 1);
      // The killed session's files are gone; this window's own lock is there.
      QCOMPARE(filesUnder(workspace, "session-*.lock").size(), 1);
      QVERIFY(filesUnder(workspace, "session-*.lock").first().contains(QString::number(QCoreApplication::applicationPid())));
      QVERIFY(filesUnder(workspace, "autosave-" + QString::number(child.processId()) + "-*").isEmpty());
      // The restored setup autosaves again; an orderly close removes it.
      w.autosave()->saveNow();
      QVERIFY(QFile::exists(w.autosave()->path()));
      w.close();
      QVERIFY(!QFile::exists(w.autosave()->path()));
    }
    QVERIFY(filesUnder(workspace, "session-*.lock").isEmpty());
    MainWindow again(nullptr, runsDir);
    QTest::qWait(200);
    QVERIFY(restoreOffer(again) == nullptr);  // nothing left to offer
  }

  void laterKeepsTheOfferAndDiscardDropsIt() {
    QTemporaryDir tmp;
    const QString workspace = tmp.filePath("workspace");
    duo::Workspace ws;
    ws.request.model = tinyModel().toStdString();
    ws.request.sparsity = duo::SparsityPlan::table(duo::SparsityConfig::uniform(4, 0.6, 0.4));
    ws.runsDir = (workspace + "/runs").toStdString();
    leaveDeadSession(workspace, ws);
    if (QTest::currentTestFailed()) return;
    {
      MainWindow w(nullptr, workspace + "/runs");
      QTRY_VERIFY_WITH_TIMEOUT(restoreOffer(w) != nullptr, 10000);
      restoreOffer(w)->findChild<QPushButton*>("laterButton")->click();
      QTRY_VERIFY(restoreOffer(w) == nullptr);
    }
    QCOMPARE(filesUnder(workspace, "autosave-*.json").size(), 1);  // kept for the next start
    {
      MainWindow w(nullptr, workspace + "/runs");
      QTRY_VERIFY_WITH_TIMEOUT(restoreOffer(w) != nullptr, 10000);
      restoreOffer(w)->findChild<QPushButton*>("discardButton")->click();
      QTRY_VERIFY(restoreOffer(w) == nullptr);
      QVERIFY(!w.modelPanel()->hasModel());  // nothing restored
    }
    QVERIFY(filesUnder(workspace, "autosave-*.json").isEmpty());
    QVERIFY(filesUnder(workspace, "session-*.lock").isEmpty());
    MainWindow w(nullptr, workspace + "/runs");
    QTest::qWait(200);
    QVERIFY(restoreOffer(w) == nullptr);
  }

  void unreadableAutosaveIsReportedAndDropped() {
    QTemporaryDir tmp;
    const QString workspace = tmp.filePath("workspace");
    duo::Workspace ws;
    ws.request.model = tinyModel().toStdString();
    leaveDeadSession(workspace, ws);
    if (QTest::currentTestFailed()) return;
    const QStringList saved = filesUnder(workspace, "autosave-*.json");
    QCOMPARE(saved.size(), 1);
    {
      QFile f(saved.first());  // cut short, as a crash during a plain write would leave it
      QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
      f.write("{\"schema\": \"duoscope.workspace/2\", \"requ");
    }
    MainWindow w(nullptr, workspace + "/runs");
    QTest::qWait(300);
    QVERIFY(restoreOffer(w) == nullptr);
    QVERIFY(filesUnder(workspace, "autosave-*.json").isEmpty());
  }
};

QTEST_MAIN(TestWindowRestore)
#include "test_window_restore.moc"
