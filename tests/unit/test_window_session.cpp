// SPDX-License-Identifier: GPL-3.0-or-later
// The window's session guard (core/io/window_session.h): a running window's lock and autosave,
// sessions whose process is gone found with their autosave (newest first, half-written locks too),
// live ones (this process's other windows) never, and an orderly end or forget() leaving nothing.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/common/atomic_file.h"
#include "core/common/process.h"
#include "core/io/window_session.h"

using duo::WindowSession;
namespace fs = std::filesystem;

namespace {
// The pid of a process that has ended (a short `sleep`, started and waited for).
long deadPid() {
  QProcess p;
  p.start("sleep", {"0.05"});
  if (!p.waitForStarted(10000)) return 0;
  const long pid = static_cast<long>(p.processId());
  p.waitForFinished(10000);
  return pid;
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}
}  // namespace

class TestWindowSession : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void runningSessionHasALockAndNothingLeftBehind() {
    QTemporaryDir tmp;
    const std::string dir = tmp.filePath("workspace").toStdString();  // created on demand
    WindowSession a(dir);
    QVERIFY(fs::exists(a.lockPath()));
    QVERIFY(!fs::exists(a.autosavePath()));  // the window writes it
    duo::writeFileAtomic(a.autosavePath(), "{}\n");
    // A second window of this process: the first is alive, so nothing was left behind.
    WindowSession b(dir);
    QVERIFY(b.lockPath() != a.lockPath() && b.autosavePath() != a.autosavePath());
    QVERIFY(b.leftBehind().empty());
    QVERIFY(a.leftBehind().empty());
    // The orderly end removes the lock and the autosave; twice is harmless.
    a.close();
    a.close();
    QVERIFY(!fs::exists(a.lockPath()) && !fs::exists(a.autosavePath()));
    QVERIFY(fs::exists(b.lockPath()));
    {
      WindowSession c(dir);
      duo::writeFileAtomic(c.autosavePath(), "{}\n");
    }  // the destructor is an orderly end too
    QCOMPARE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // b's lock
  }

  void deadSessionsAreFoundNewestFirstAndForgotten() {
    QTemporaryDir tmp;
    const std::string dir = tmp.path().toStdString();
    const long dead1 = deadPid(), dead2 = deadPid(), dead3 = deadPid();
    QVERIFY(dead1 > 0 && dead2 > 0 && dead3 > 0);
    QVERIFY(!duo::processAlive(dead1) && !duo::processAlive(dead2));
    // Two killed windows with autosaves (the older first), one that never autosaved, and one whose
    // lock the kill cut short (its pid is in the name).
    auto lockOf = [&](long pid) {
      return "{\"schema\": \"duoscope.session/1\", \"pid\": " + std::to_string(pid) +
             ", \"started\": \"2026-12-03T08:00:00Z\", \"autosave\": \"autosave-" + std::to_string(pid) + "-0.json\"}";
    };
    writeText(dir + "/session-" + std::to_string(dead1) + "-0.lock", lockOf(dead1));
    writeText(dir + "/autosave-" + std::to_string(dead1) + "-0.json", "{\"old\": 1}");
    fs::last_write_time(dir + "/autosave-" + std::to_string(dead1) + "-0.json",
                        fs::file_time_type::clock::now() - std::chrono::hours(2));
    writeText(dir + "/session-" + std::to_string(dead2) + "-0.lock", "{\"schema\": \"duoscope.sess");  // cut short
    writeText(dir + "/autosave-" + std::to_string(dead2) + "-0.json", "{\"new\": 1}");
    writeText(dir + "/session-" + std::to_string(dead3) + "-0.lock", lockOf(dead3));  // no autosave
    writeText(dir + "/autosave-unrelated.json", "{}");  // not a session's: ignored
    WindowSession me(dir);
    const std::vector<WindowSession::Left> left = me.leftBehind();
    QCOMPARE(int(left.size()), 3);
    QCOMPARE(left[0].pid, dead2);  // newest autosave first, found although its lock is unreadable
    QVERIFY(left[0].autosavePath.find("autosave-" + std::to_string(dead2) + "-0.json") != std::string::npos);
    QVERIFY(left[0].started.empty());
    QCOMPARE(left[1].pid, dead1);
    QCOMPARE(left[1].started, std::string("2026-12-03T08:00:00Z"));
    QVERIFY(left[0].autosavedAt > left[1].autosavedAt);
    QCOMPARE(left[2].pid, dead3);  // no autosave: last
    QVERIFY(left[2].autosavePath.empty());
    for (const auto& s : left) WindowSession::forget(s);
    QVERIFY(me.leftBehind().empty());
    for (long pid : {dead1, dead2, dead3}) {
      QVERIFY(!fs::exists(dir + "/session-" + std::to_string(pid) + "-0.lock"));
      QVERIFY(!fs::exists(dir + "/autosave-" + std::to_string(pid) + "-0.json"));
    }
    QVERIFY(fs::exists(dir + "/autosave-unrelated.json"));
    QVERIFY(fs::exists(me.lockPath()));
  }

  void killedProcessLeavesItsSession() {
    // A real process holding a session (this test binary in its child mode), killed with SIGKILL.
    QTemporaryDir tmp;
    const QString dir = tmp.filePath("workspace");
    QProcess child;
    child.start(QCoreApplication::applicationFilePath(), {"--hold-session", dir});
    QVERIFY(child.waitForStarted(10000));
    QVERIFY(child.waitForReadyRead(30000));  // "ready": its lock and autosave are written
    const long pid = static_cast<long>(child.processId());
    WindowSession alive(dir.toStdString());
    QVERIFY(alive.leftBehind().empty());  // its process still runs
    child.kill();  // SIGKILL
    QVERIFY(child.waitForFinished(10000));
    const auto left = alive.leftBehind();
    QCOMPARE(int(left.size()), 1);
    QCOMPARE(left[0].pid, pid);
    QVERIFY(!left[0].started.empty());
    QVERIFY(fs::exists(left[0].autosavePath));
    WindowSession::forget(left[0]);
    QVERIFY(alive.leftBehind().empty());
  }
};

int main(int argc, char** argv) {
  // Child mode for killedProcessLeavesItsSession: holds a session in the folder given until killed.
  if (argc == 3 && std::string(argv[1]) == "--hold-session") {
    WindowSession s(argv[2]);
    duo::writeFileAtomic(s.autosavePath(), "{\"schema\": \"duoscope.workspace/2\"}\n");
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) pause();
  }
  QCoreApplication app(argc, argv);
  TestWindowSession t;
  return QTest::qExec(&t, argc, argv);
}
#include "test_window_session.moc"
