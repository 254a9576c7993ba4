// SPDX-License-Identifier: GPL-3.0-or-later
// Sensitivity, allocation and accuracy in the window (issues 8 and 7), with real core calls on the
// bundled tiny model: the sensitivity job in the worker fills the per-layer curves and a table
// sorted most sensitive first; the target-speedup slider re-runs core's allocator and moves the
// table, the totals and the sparsity plot towards the target (one undo step per drag); the
// Allocated and OWL presets; cancelling a sensitivity run changes nothing; "Apply and run"
// calibrates the allocation; timing profiles (loaded, measured, of another model, corrupt, cleared)
// drive the totals and the slider; and a screenshot of the sensitivity view.
#include <QCheckBox>
#include <QDir>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>
#include <algorithm>
#include <cmath>

#include "core/data/corpus.h"
#include "core/data/mc_task.h"
#include "core/engine/timing_profile.h"
#include "core/io/run_store.h"
#include "core/job/decode_estimate.h"
#include "gui_test_util.h"
#include "ui/background_task.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
#include "ui/panels/allocation_bar.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/run_panel.h"
#include "ui/panels/runs_panel.h"
#include "ui/panels/sensitivity_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/runs_plot.h"
#include "ui/plots/sensitivity_plot.h"
#include "ui/plots/sparsity_plot.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"
#include "ui/timing_controller.h"

using duo::ui::BackgroundTask;
using duo::ui::MainWindow;
using duo::ui::SensitivityPanel;
using namespace duo::test;

namespace {

double predicted(MainWindow& w) { return w.sparsityTable()->model()->decodeEstimate().speedup; }

// A made-up profile with lines at every projection shape of `mc` (and the lm_head): sparse kernels
// with larger fixed costs and slower streams than dense, so its speedups differ from the bytes
// model's. `scale` > 1 makes the shapes another model's.
duo::perf::TimingProfile syntheticProfile(const duo::ModelConfig& mc, int64_t scale = 1) {
  using duo::perf::Kernel;
  duo::perf::TimingProfile p;
  p.device = "synthetic";
  p.threads = 2;
  p.readBandwidthGbs = 10;
  const int64_t h = mc.hiddenSize * scale, q = mc.numHeads * mc.headDim * scale, kv = mc.numKvHeads * mc.headDim * scale,
                f = mc.intermediateSize * scale;
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{{q, h}, {kv, h}, {h, q}, {f, h}, {h, f}, {mc.vocabSize, h}}) {
    if (std::any_of(p.shapes.begin(), p.shapes.end(), [&](const auto& s) { return s.rows == r && s.cols == c; })) continue;
    duo::perf::ShapeTiming st;
    st.rows = r;
    st.cols = c;
    st.kernels[static_cast<size_t>(Kernel::Dense)] = {4, 12};
    st.kernels[static_cast<size_t>(Kernel::ActSparse)] = {6, 8};
    st.kernels[static_cast<size_t>(Kernel::WeightSparse)] = {7, 6};
    st.kernels[static_cast<size_t>(Kernel::DualSparse)] = {9, 5};
    p.shapes.push_back(st);
  }
  p.topkUs = {{h, 2.0}, {q, 2.0}, {f, 4.0}};
  p.otherUs = 120;
  p.otherContext = 32;
  return p;
}

}  // namespace

class TestSensitivityAllocation : public QObject {
  Q_OBJECT
  QTemporaryDir m_tmp;
  std::unique_ptr<MainWindow> m_w;

 private Q_SLOTS:
  void initTestCase() {
    useTestSettings("test_sensitivity_allocation");
    const QString model = modelPath("tiny");
    QVERIFY2(!model.isEmpty(), "the bundled tiny model is missing (resources/models/duo-tiny-kjv)");
    m_w = std::make_unique<MainWindow>(nullptr, m_tmp.filePath("runs"));
    m_w->resize(1280, 800);
    QVERIFY(showWithSmallData(*m_w, model));
  }

  void sensitivityFillsCurvesAndSortedTable() {
    MainWindow& w = *m_w;
    QVERIFY(!w.allocationBar()->slider()->isEnabled());  // nothing to allocate from yet
    QVERIFY(!w.findChild<QAction*>("presetAllocated")->isEnabled());
    QSignalSpy progressed(w.task(), &BackgroundTask::progressed);
    w.action("actionSensitivity")->trigger();
    QVERIFY(w.task()->isBusy());
    QVERIFY(!w.action("actionCalibrate")->isEnabled());  // one worker job at a time
    const QString error = waitForTask(w, 120000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(progressed.count() > 0);
    const duo::SensitivityTable* t = w.sensitivityPanel()->sensitivity();
    QVERIFY(t);
    const int layers = w.sparsityTable()->config().numLayers();
    QCOMPARE(t->numLayers(), layers);
    QCOMPARE(t->nsamples, 8);
    QCOMPARE(t->seqlen, 64);
    // One curve per layer; each the summed predicted error of the layer's 7 projections.
    QCOMPARE(w.sensitivityPanel()->plot()->curveCount(), layers);
    const auto diag = duo::ui::sensitivityDiagonal(*t);
    const QVector<QPointF> c0 = w.sensitivityPanel()->plot()->curve(0);
    QVERIFY(!c0.isEmpty());
    const auto [iw, ia] = diag.last();
    double sum = 0;
    for (int p = 0; p < duo::kNumProj; ++p) sum += t->at(0, static_cast<duo::Proj>(p)).errorAt(iw, ia);
    QCOMPARE(c0.last().y(), sum);
    // The table: every projection, most sensitive first, values from the core's table.
    QTableWidget* table = w.sensitivityPanel()->table();
    QCOMPARE(table->rowCount(), layers * duo::kNumProj);
    for (int row = 1; row < table->rowCount(); ++row)
      QVERIFY(table->item(row - 1, SensitivityPanel::ColError)->data(Qt::UserRole).toDouble() >=
              table->item(row, SensitivityPanel::ColError)->data(Qt::UserRole).toDouble());
    const int l = table->item(0, SensitivityPanel::ColLayer)->data(Qt::UserRole).toInt();
    duo::Proj p = duo::Proj::Q;
    QVERIFY(duo::projFromName(table->item(0, SensitivityPanel::ColProj)->text().toStdString(), &p));
    const auto nearestTo = [](const std::vector<double>& g, double v) {
      size_t best = 0;
      for (size_t i = 1; i < g.size(); ++i)
        if (std::fabs(g[i] - v) < std::fabs(g[best] - v)) best = i;
      return best;
    };
    QCOMPARE(table->item(0, SensitivityPanel::ColError)->data(Qt::UserRole).toDouble(),
             t->at(l, p).errorAt(nearestTo(t->gridW, 0.5), nearestTo(t->gridA, 0.5)));
    // Sorting by another column works (a click on the header).
    table->sortByColumn(SensitivityPanel::ColLayer, Qt::AscendingOrder);
    QCOMPARE(table->item(0, SensitivityPanel::ColLayer)->data(Qt::UserRole).toInt(), 0);
    table->sortByColumn(SensitivityPanel::ColError, Qt::DescendingOrder);
    QVERIFY(w.allocationBar()->slider()->isEnabled());
    QVERIFY(w.findChild<QAction*>("presetAllocated")->isEnabled());
  }

  void sliderAllocatesTowardsTheTarget() {
    MainWindow& w = *m_w;
    QVERIFY2(w.sensitivityPanel()->sensitivity(), "needs the table sensitivityFillsCurvesAndSortedTable makes (it failed)");
    const duo::SparsityConfig before = w.sparsityTable()->config();
    const int undoBefore = w.sparsityTable()->model()->undoStack()->count();
    duo::ui::AllocationBar* bar = w.allocationBar();
    QSignalSpy allocated(bar, &duo::ui::AllocationBar::allocated);
    // A drag: several values; each re-runs the allocator and updates the table at once.
    double last = 0;
    QVector<double> reached;
    for (double target : {1.3, 1.5, 1.7}) {
      bar->setTargetSpeedup(target);
      QVERIFY(bar->last().has_value());
      const double now = predicted(w);
      QVERIFY2(now >= target - 0.01, qPrintable(QString("target %1, predicted %2").arg(target).arg(now)));
      QVERIFY2(now < target + 0.25, qPrintable(QString("target %1, predicted %2").arg(target).arg(now)));
      QVERIFY(now > last);  // moves with the target
      last = now;
      reached << now;
      // The table holds the allocation; the totals and the sparsity plot follow it.
      duo::SparsityConfig expect = bar->last()->config;
      expect.nm = before.nm;
      QVERIFY(w.sparsityTable()->config() == expect);
      QVERIFY(w.findChild<QLabel*>("sparsityTotals")->text().contains(QString("%1×").arg(now, 0, 'f', 2)));
      const QCPGraph* tw = w.sparsityPlot()->targetWeights();
      double mean0 = 0;
      for (int q = 0; q < duo::kNumProj; ++q) mean0 += expect.at(0, static_cast<duo::Proj>(q)).weight / duo::kNumProj;
      QCOMPARE(tw->data()->constBegin()->value, 100.0 * mean0);
    }
    QCOMPARE(allocated.count(), 3);
    std::printf("BENCH gui_allocation targets=1.3,1.5,1.7 predicted=%.3f,%.3f,%.3f\n", reached[0], reached[1], reached[2]);
    // The sensitivity table shows each projection's allocated point.
    QVERIFY(w.sensitivityPanel()->table()->item(0, SensitivityPanel::ColAllocW)->text() != "--");
    // The whole drag is one undo step.
    QCOMPARE(w.sparsityTable()->model()->undoStack()->count(), undoBefore + 1);
    w.sparsityTable()->model()->undoStack()->undo();
    QVERIFY(w.sparsityTable()->config() == before);
    w.sparsityTable()->model()->undoStack()->redo();
  }

  void allocatedAndOwlPresets() {
    MainWindow& w = *m_w;
    QVERIFY2(w.sensitivityPanel()->sensitivity(), "needs the table sensitivityFillsCurvesAndSortedTable makes (it failed)");
    w.sparsityTable()->applyUniform();
    w.allocationBar()->setTargetSpeedup(1.6);
    w.sparsityTable()->applyUniform();  // the table away from the allocation
    w.findChild<QAction*>("presetAllocated")->trigger();
    const auto lag = w.allocationBar()->allocateNow("lagrangian");
    QVERIFY(lag);
    QCOMPARE(w.sparsityTable()->config().at(1, duo::Proj::Down).weight, lag->config.at(1, duo::Proj::Down).weight);
    QVERIFY(predicted(w) >= 1.59);
    w.findChild<QAction*>("presetOwl")->trigger();
    const duo::SparsityConfig owl = w.sparsityTable()->config();
    const auto owlAlloc = w.allocationBar()->allocateNow("owl");
    QVERIFY(owlAlloc);
    QCOMPARE(owl.at(0, duo::Proj::Q).weight, owlAlloc->config.at(0, duo::Proj::Q).weight);
    // OWL: weight sparsity varies by layer (outlier ratios differ), activation sparsity uniform.
    bool differs = false;
    for (int l = 1; l < owl.numLayers(); ++l) differs |= owl.at(l, duo::Proj::Q).weight != owl.at(0, duo::Proj::Q).weight;
    QVERIFY(differs);
    QVERIFY(predicted(w) >= 1.59);
  }

  void timingProfileDrivesSpeedPredictions() {
    MainWindow& w = *m_w;
    QVERIFY2(w.sensitivityPanel()->sensitivity(), "needs the table sensitivityFillsCurvesAndSortedTable makes (it failed)");
    const duo::ModelConfig mc = w.sparsityTable()->model()->modelConfig();
    duo::ui::AllocationBar* bar = w.allocationBar();
    auto* totals = w.sparsityTable()->findChild<QLabel*>("sparsityTotals");
    QVERIFY(totals);
    QVERIFY(!w.sparsityTable()->model()->decodeEstimate().timed);
    QVERIFY(!w.action("actionClearTiming")->isEnabled());

    // Load a profile: the totals and the slider predict with its lines, exactly as the core does.
    const QString path = m_tmp.filePath("synthetic-timing.json");
    duo::perf::saveTimingProfile(path.toStdString(), syntheticProfile(mc));
    const duo::perf::TimingProfile profile = duo::perf::loadTimingProfile(path.toStdString());
    QVERIFY(w.timingController()->load(path));
    QCOMPARE(QSettings().value("timing/profile").toString(), QFileInfo(path).absoluteFilePath());
    QVERIFY(w.action("actionClearTiming")->isEnabled());
    w.sparsityTable()->applyUniform();
    duo::ui::SparsityModel::DecodeEstimate est = w.sparsityTable()->model()->decodeEstimate();
    QVERIFY(est.timed);
    const duo::SparsityConfig uniform = w.sparsityTable()->config();
    QCOMPARE(est.speedup, duo::predictDecodeFor(mc, uniform, &profile).speedup);
    QCOMPARE(est.bytesSpeedup, duo::predictDecodeFor(mc, uniform).speedup);
    QVERIFY2(std::fabs(est.speedup - est.bytesSpeedup) > 0.05, qPrintable(QString("%1 vs %2").arg(est.speedup).arg(est.bytesSpeedup)));
    QVERIFY2(totals->text().contains("timing profile") && totals->text().contains(QString::number(est.speedup, 'f', 2)),
             qPrintable(totals->text()));
    QVERIFY(bar->timed());
    for (double target : {1.2, 1.35}) {
      bar->setTargetSpeedup(target);
      QVERIFY(bar->last().has_value());
      const double now = predicted(w);
      QVERIFY2(now >= target - 0.01, qPrintable(QString("target %1, timed prediction %2").arg(target).arg(now)));
      QVERIFY(std::fabs(bar->last()->predicted.speedup - now) < 1e-9);  // the slider and the totals agree
    }
    QVERIFY2(bar->findChild<QLabel*>("allocationReadout")->text().contains("timing profile"),
             qPrintable(bar->findChild<QLabel*>("allocationReadout")->text()));

    // Another model's profile loads but is not used, and the window says why.
    const QString other = m_tmp.filePath("other-timing.json");
    duo::perf::saveTimingProfile(other.toStdString(), syntheticProfile(mc, 3));
    QVERIFY(w.timingController()->load(other));
    est = w.sparsityTable()->model()->decodeEstimate();
    QVERIFY(!est.timed);
    QVERIFY(!est.timingProblem.empty());
    QCOMPARE(est.speedup, est.bytesSpeedup);
    QVERIFY2(totals->text().contains("Timing profile not used"), qPrintable(totals->text()));
    QVERIFY(!bar->timed());

    // A corrupt file: an error naming it, and the profile before it stays.
    QVERIFY(w.timingController()->load(path));
    const QString bad = m_tmp.filePath("bad-timing.json");
    {
      QFile f(bad);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("{\"schema\": \"duoscope.timing/1\", \"shapes\": [");
    }
    QVERIFY(!w.timingController()->load(bad));
    QTRY_VERIFY(w.findChild<QMessageBox*>("errorDialog") != nullptr);
    QMessageBox* box = w.findChild<QMessageBox*>("errorDialog");
    QVERIFY2(box->text().contains("bad-timing.json"), qPrintable(box->text()));
    box->accept();
    QTRY_VERIFY(w.findChild<QMessageBox*>("errorDialog") == nullptr);
    QVERIFY(w.timingController()->profile() && w.timingController()->profile()->source == path.toStdString());
    QVERIFY(w.sparsityTable()->model()->decodeEstimate().timed);

    // Cancelled: nothing written, the profile before stays.
    {
      const QString cancelledPath = m_tmp.filePath("cancelled-timing.json");
      QSignalSpy cancelled(w.task(), &BackgroundTask::cancelled);
      QSignalSpy finished(w.task(), &BackgroundTask::finished);
      duo::test::MidRunLatch latch(duo::test::atStage("calibrate", 1));  // held after the first kernel line
      w.task()->setWorkerHook(latch.hook());
      w.timingController()->measure(cancelledPath);
      QVERIFY(w.task()->isBusy());
      QVERIFY(latch.waitHeld(120000));
      QVERIFY(w.action("actionCancel")->isEnabled());
      w.action("actionCancel")->trigger();
      latch.release();
      QTRY_VERIFY_WITH_TIMEOUT(!w.task()->isBusy(), 60000);
      w.task()->setWorkerHook({});
      QVERIFY2(finished.count() == 0, qPrintable("held at " + latch.where() + ", yet the measurement finished"));
      QCOMPARE(cancelled.count(), 1);
      QVERIFY(!QFileInfo::exists(cancelledPath));
      QVERIFY(w.timingController()->profile() && w.timingController()->profile()->source == path.toStdString());
    }

    // Measured in the window on the open model: a profile with its shapes, saved and in use.
    const QString measured = m_tmp.filePath("tiny-timing.json");
    w.timingController()->measure(measured);
    QVERIFY(w.task()->isBusy());
    const QString error = waitForTask(w, 300000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(QFileInfo::exists(measured));
    QVERIFY(w.timingController()->profile() && w.timingController()->profile()->source == measured.toStdString());
    QVERIFY(w.timingController()->profile()->shape(mc.intermediateSize, mc.hiddenSize).at(duo::perf::Kernel::DualSparse).gbs > 0);
    QVERIFY(w.sparsityTable()->model()->decodeEstimate().timed);
    QVERIFY(bar->timed());

    // A run with the profile loaded stores its prediction in the run record.
    {
      w.runController()->calibrate();
      const QString error = waitForRun(w, 300000);
      QVERIFY2(error.isEmpty(), qPrintable(error));
      const duo::RunRecord rec = duo::RunStore(m_tmp.filePath("runs").toStdString()).load("latest");
      QVERIFY(rec.calibratedSpeedup.has_value());
      QCOMPARE(*rec.calibratedSpeedup, duo::predictDecodeFor(mc, rec.sparsity, w.timingController()->profile().get()).speedup);
      QCOMPARE(rec.timingProfile, measured.toStdString());
    }

    // Back to the bytes model.
    w.action("actionClearTiming")->trigger();
    QVERIFY(!w.timingController()->profile());
    QVERIFY(!QSettings().contains("timing/profile"));
    est = w.sparsityTable()->model()->decodeEstimate();
    QVERIFY(!est.timed);
    QCOMPARE(est.speedup, duo::predictDecodeFor(mc, w.sparsityTable()->config()).speedup);
    QVERIFY(!bar->timed());
  }

  void applyAndRunCalibratesTheAllocation() {
    MainWindow& w = *m_w;
    QVERIFY2(w.sensitivityPanel()->sensitivity(), "needs the table sensitivityFillsCurvesAndSortedTable makes (it failed)");
    w.allocationBar()->setTargetSpeedup(1.5);
    const duo::SparsityConfig alloc = w.sparsityTable()->config();
    QSignalSpy started(w.job(), &duo::ui::JobController::started);
    QSignalSpy stored(w.runController(), &duo::ui::RunController::runStored);
    w.findChild<QPushButton*>("applyAndRun")->click();
    QCOMPARE(started.count(), 1);
    QVERIFY(started.first().first().value<duo::RunRequest>().prune.sparsity.table() == alloc);
    const QString error = waitForRun(w, 300000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const duo::RunRecord rec = duo::RunStore(m_tmp.filePath("runs").toStdString()).load("latest");
    QVERIFY(rec.sparsity == alloc);
    QVERIFY(std::fabs(rec.predictedSpeedup - predicted(w)) < 1e-9);
  }

  void screenshotOfTheSensitivityView() {
    MainWindow& w = *m_w;
    QVERIFY2(w.sensitivityPanel()->sensitivity(), "needs the table sensitivityFillsCurvesAndSortedTable makes (it failed)");
    const QString dir = duo::test::screenshotDir(m_tmp);
    w.allocationBar()->setTargetSpeedup(1.6);
    w.plotTabs()->setCurrentWidget(w.sensitivityPanel());
    QTest::qWait(100);
    w.saveScreenshot(dir + "/sensitivity.png");
    QVERIFY(!QImage(dir + "/sensitivity.png").isNull());
  }

  // Last: the screenshot above shows the finished table, not this cancelled run's status.
  void cancelMidSensitivityChangesNothing() {
    MainWindow& w = *m_w;
    QVERIFY2(w.sensitivityPanel()->sensitivity(), "needs the table sensitivityFillsCurvesAndSortedTable makes (it failed)");
    const duo::SparsityConfig before = w.sparsityTable()->config();
    const duo::SensitivityTable* tableBefore = w.sensitivityPanel()->sensitivity();
    QTableWidget* table = w.sensitivityPanel()->table();
    const QString firstRow = table->item(0, SensitivityPanel::ColError)->text();
    const double target = w.allocationBar()->targetSpeedup();
    QSignalSpy cancelled(w.task(), &BackgroundTask::cancelled);
    QSignalSpy finished(w.task(), &BackgroundTask::finished);
    w.findChild<QSpinBox*>("nsamples")->setValue(64);  // a longer run to cancel
    QSignalSpy progressed(w.task(), &BackgroundTask::progressed);
    duo::test::MidRunLatch latch(duo::test::atStage("sensitivity", 2));
    w.task()->setWorkerHook(latch.hook());
    w.sensitivityPanel()->runButton()->click();
    QVERIFY(w.task()->isBusy());
    QVERIFY(w.sensitivityPanel()->cancelButton()->isEnabled());
    QVERIFY(latch.waitHeld(120000));
    QTRY_VERIFY_WITH_TIMEOUT(progressed.count() > 0, 10000);  // the panel saw it running
    w.sensitivityPanel()->cancelButton()->click();
    latch.release();
    QVERIFY(cancelled.wait(10000));
    w.task()->setWorkerHook({});
    QVERIFY2(finished.count() == 0, qPrintable("held at " + latch.where() + ", yet the sensitivity finished"));
    QVERIFY(w.sparsityTable()->config() == before);
    QCOMPARE(w.sensitivityPanel()->sensitivity(), tableBefore);
    QCOMPARE(table->item(0, SensitivityPanel::ColError)->text(), firstRow);
    QCOMPARE(w.allocationBar()->targetSpeedup(), target);
    QVERIFY(w.action("actionCalibrate")->isEnabled());
    w.findChild<QSpinBox*>("nsamples")->setValue(8);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TestSensitivityAllocation)
#include "test_sensitivity_allocation.moc"
