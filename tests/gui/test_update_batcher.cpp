// SPDX-License-Identifier: GPL-3.0-or-later
// UpdateBatcher: a worker's flood of appends reaches the GUI thread in order, complete, and at
// most once per interval (plus the final flush); nothing is delivered when nothing was appended,
// and clear() drops what is pending.
#include <QElapsedTimer>
#include <QThread>
#include <QVector>
#include <QtTest>
#include <memory>

#include "ui/update_batcher.h"

using duo::ui::UpdateBatcher;

class TestUpdateBatcher : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void floodIsCoalescedInOrder_data() {
    QTest::addColumn<int>("intervalMs");
    QTest::addColumn<int>("appends");
    QTest::newRow("40 ms (the window's)") << 40 << 3000;
    QTest::newRow("10 ms") << 10 << 3000;
  }

  void floodIsCoalescedInOrder() {
    QFETCH(int, intervalMs);
    QFETCH(int, appends);
    QVector<int> received;
    int deliveries = 0;
    bool offGuiThread = false;
    QThread* gui = QThread::currentThread();
    UpdateBatcher<QVector<int>> batcher(
        [&](QVector<int>&& batch) {
          ++deliveries;
          offGuiThread |= QThread::currentThread() != gui;
          QVERIFY(!batch.isEmpty());
          received += batch;
        },
        intervalMs);
    QCOMPARE(batcher.intervalMs(), intervalMs);
    QElapsedTimer clock;
    clock.start();
    std::unique_ptr<QThread> worker(QThread::create([&batcher, appends] {
      for (int i = 0; i < appends; ++i) {
        batcher.append([i](QVector<int>& pending) { pending.append(i); });
        QThread::usleep(100);  // ~0.3 s of a steady stream
      }
    }));
    worker->start();
    QTRY_VERIFY_WITH_TIMEOUT(worker->isFinished(), 30000);
    batcher.finish();  // the worker has ended: the rest at once
    const double ms = clock.elapsed();
    QVERIFY(!offGuiThread);
    QCOMPARE(received.size(), appends);
    for (int i = 0; i < appends; ++i) QCOMPARE(received[i], i);
    QVERIFY2(deliveries <= ms / intervalMs + 2, qPrintable(QString("%1 deliveries in %2 ms").arg(deliveries).arg(ms)));
    QVERIFY2(deliveries >= 2, "a 0.3 s stream arrives while it runs, not only at the end");
  }

  void latestValueWins() {
    QVector<int> delivered;
    UpdateBatcher<int> latest([&](int&& v) { delivered.append(v); });
    for (int i = 1; i <= 100; ++i) latest.append([i](int& pending) { pending = i; });
    QTRY_COMPARE(delivered.size(), 1);
    QCOMPARE(delivered.first(), 100);
  }

  void nothingAppendedNothingDelivered() {
    int deliveries = 0;
    UpdateBatcher<QVector<int>> batcher([&](QVector<int>&&) { ++deliveries; }, 10);
    batcher.flush();
    batcher.finish();
    QTest::qWait(50);
    QCOMPARE(deliveries, 0);
    batcher.append([](QVector<int>& pending) { pending.append(1); });
    batcher.finish();
    batcher.finish();  // delivered once only
    QTest::qWait(50);  // the request posted by append finds nothing left
    QCOMPARE(deliveries, 1);
  }

  void clearDropsPending() {
    QVector<int> received;
    UpdateBatcher<QVector<int>> batcher([&](QVector<int>&& batch) { received += batch; }, 10);
    batcher.append([](QVector<int>& pending) { pending.append(1); });
    batcher.clear();  // a new job starts before the timer fired
    QTest::qWait(50);
    QVERIFY(received.isEmpty());
    batcher.append([](QVector<int>& pending) { pending.append(2); });
    QTRY_COMPARE(received, QVector<int>{2});
  }
};

QTEST_MAIN(TestUpdateBatcher)
#include "test_update_batcher.moc"
