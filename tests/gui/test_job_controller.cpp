// SPDX-License-Identifier: GPL-3.0-or-later
// The job controller: core's runJob in a worker thread, value types back through queued signals,
// records coalesced to at most one emission per 40 ms, cancel through the progress callback.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <set>

#include "gui_support.h"
#include "ui/job_controller.h"

using duo::ui::JobController;
using duo::ui::JobProgress;

class TestJobController : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void failureCarriesTheCoreMessage() {
    QTemporaryDir tmp;
    JobController job;
    QSignalSpy failed(&job, &JobController::failed);
    QSignalSpy finished(&job, &JobController::finished);
    QSignalSpy states(&job, &JobController::stateChanged);
    const duo::RunRequest req = duo::test::smallRun(tmp.filePath("missing-model.gguf"));
    QVERIFY(job.start(req));
    QVERIFY(job.isBusy());
    QVERIFY(failed.wait(30000));
    const QString message = failed.first().first().toString();
    QVERIFY(!message.isEmpty());
    QVERIFY2(message.contains("missing-model.gguf"), qPrintable(message));
    QCOMPARE(finished.count(), 0);
    QCOMPARE(job.state(), JobController::State::Idle);
    QCOMPARE(states.count(), 2);  // Running, Idle
  }

  void refusesASecondJobWhileBusy() {
    QTemporaryDir tmp;
    JobController job;
    QSignalSpy done(&job, &JobController::stateChanged);
    QVERIFY(job.start(duo::test::smallRun(tmp.filePath("a.gguf"))));
    QVERIFY(!job.start(duo::test::smallRun(tmp.filePath("b.gguf"))));
    QTRY_COMPARE_WITH_TIMEOUT(job.state(), JobController::State::Idle, 30000);
    // Idle again: a new job starts.
    QVERIFY(job.start(duo::test::smallRun(tmp.filePath("c.gguf"))));
    QTRY_COMPARE_WITH_TIMEOUT(job.state(), JobController::State::Idle, 30000);
  }

  void realJobCoalescesRecordsAndMatchesTheResult() {
    const QString model = duo::test::jobModelPath();
    QVERIFY2(!model.isEmpty(), "neither the bundled tiny model (resources/models) nor the cached SmolLM2 is on this machine");
    JobController job;
    QSignalSpy finished(&job, &JobController::finished);
    QSignalSpy failed(&job, &JobController::failed);
    QSignalSpy updates(&job, &JobController::recordsUpdated);
    QSignalSpy progress(&job, &JobController::progressed);
    QElapsedTimer clock;
    clock.start();
    QVERIFY(job.start(duo::test::smallRun(model)));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() + failed.count() > 0, 600000);
    const double seconds = clock.elapsed() / 1000.0;
    if (failed.count()) {
      const QString message = failed.first().first().toString();
      QFAIL(qPrintable(message));
    }
    const auto result = finished.first().first().value<duo::RunOutcome>().result;
    // Coalesced: never more than one records emission per 40 ms (plus the final flush).
    QVERIFY2(updates.count() <= seconds * 1000.0 / JobController::kFlushMs + 2,
             qPrintable(QString("%1 emissions in %2 s").arg(updates.count()).arg(seconds)));
    QVERIFY(updates.count() >= 1);
    QVERIFY(progress.count() >= 1);
    // The last emission holds every record, the same ones as the result.
    const auto last = updates.last().first().value<QVector<duo::ProjRecord>>();
    QCOMPARE(size_t(last.size()), result.records.size());
    QCOMPARE(job.records().size(), last.size());
    std::set<std::pair<int, int>> seen;
    for (const duo::ProjRecord& r : result.records) seen.insert({r.layer, int(r.proj)});
    for (const duo::ProjRecord& r : last) QVERIFY(seen.count({r.layer, int(r.proj)}) == 1);
    QCOMPARE(job.state(), JobController::State::Idle);
    std::printf("BENCH gui_job_seconds=%.2f records=%zu emissions=%d\n", seconds, result.records.size(),
                int(updates.count()));
  }

  void cancelStopsWithinASecond() {
    const QString model = duo::test::jobModelPath();
    QVERIFY2(!model.isEmpty(), "neither the bundled tiny model (resources/models) nor the cached SmolLM2 is on this machine");
    JobController job;
    duo::test::MidRunLatch latch(duo::test::atStage("calibrate", 3));  // after a few projections
    job.setWorkerHook(latch.hook());
    QSignalSpy cancelled(&job, &JobController::cancelled);
    QSignalSpy failed(&job, &JobController::failed);
    QSignalSpy finished(&job, &JobController::finished);
    QSignalSpy updates(&job, &JobController::recordsUpdated);
    QVERIFY(job.start(duo::test::smallRun(model)));
    QVERIFY2(latch.waitHeld(600000), failed.count() ? qPrintable(failed.first().first().toString()) : "never reached");
    // Held mid-calibration: the records made so far still reach the window.
    QTRY_VERIFY_WITH_TIMEOUT(updates.count() > 0, 5000);
    QElapsedTimer clock;
    clock.start();
    job.cancel();
    QCOMPARE(job.state(), JobController::State::Cancelling);
    latch.release();
    QVERIFY(cancelled.wait(5000));
    const qint64 ms = clock.elapsed();
    std::printf("BENCH gui_cancel_ms=%lld\n", static_cast<long long>(ms));
    QVERIFY2(ms < 1000, qPrintable(QString("cancel took %1 ms").arg(ms)));
    QCOMPARE(finished.count(), 0);
    QCOMPARE(failed.count(), 0);
    QCOMPARE(job.state(), JobController::State::Idle);
  }
};

QTEST_MAIN(TestJobController)
#include "test_job_controller.moc"
