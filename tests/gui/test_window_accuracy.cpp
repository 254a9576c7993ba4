// SPDX-License-Identifier: GPL-3.0-or-later
// Accuracy in the window, with real core calls on the bundled tiny model: "Make task"
// runs core's cloze generator in the worker and sets the Data tab's task; the run then carries
// acc / acc_norm (pruned and dense) in its core run record, the runs list shows them and the runs
// plot's accuracy view plots the run.
#include <QCheckBox>
#include <QDir>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include "core/data/corpus.h"
#include "core/data/mc_task.h"
#include "core/io/run_store.h"
#include "gui_test_util.h"
#include "ui/background_task.h"
#include "ui/export_controller.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/run_panel.h"
#include "ui/panels/runs_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/runs_plot.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"

using duo::ui::BackgroundTask;
using duo::ui::MainWindow;

using namespace duo::test;

class TestWindowAccuracy : public QObject {
  Q_OBJECT
  QTemporaryDir m_tmp;
  std::unique_ptr<MainWindow> m_w;

 private Q_SLOTS:
  void initTestCase() {
    useTestSettings("test_window_accuracy");
    const QString model = modelPath("tiny");
    QVERIFY2(!model.isEmpty(), "the bundled tiny model is missing (resources/models/duo-tiny-kjv)");
    m_w = std::make_unique<MainWindow>(nullptr, m_tmp.filePath("runs"));
    QVERIFY(showWithSmallData(*m_w, model));
  }

  void clozeTaskGivesAccuracy() {
    MainWindow& w = *m_w;
    try {
      duo::loadCorpus("kjv:eval");
    } catch (const std::exception& e) {
      QSKIP(qPrintable(QString("kjv:eval is not cached: ") + e.what()));
    }
    const QString task = m_tmp.filePath("kjv-cloze.jsonl");
    w.exportController()->makeTask(task, "kjv:eval", 80);
    const QString error = waitForTask(w, 60000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(w.currentRequest().taskFile, task.toStdString());
    const duo::McTask mc = duo::loadMcTask(task.toStdString());
    QCOMPARE(int(mc.items.size()), 80);
    w.sparsityTable()->applyUniform();
    w.runController()->calibrate();
    const QString runError = waitForRun(w, 300000);
    QVERIFY2(runError.isEmpty(), qPrintable(runError));
    const duo::RunRecord rec = duo::RunStore(m_tmp.filePath("runs").toStdString()).load("latest");
    const duo::RunMetric* acc = rec.findMetric("acc", "pruned");
    const duo::RunMetric* accNorm = rec.findMetric("acc_norm", "pruned");
    QVERIFY(acc && accNorm && rec.findMetric("acc", "dense"));
    QCOMPARE(QString::fromStdString(acc->data), QString("kjv-cloze"));
    QCOMPARE(acc->count, int64_t(mc.items.size()));
    QVERIFY(acc->value >= 0 && acc->value <= 1);
    std::printf("BENCH gui_accuracy items=%lld acc=%.3f acc_norm=%.3f dense_acc=%.3f\n",
                static_cast<long long>(acc->count), acc->value, accNorm->value, rec.findMetric("acc", "dense")->value);
    // The runs list and the runs plot's accuracy view show it.
    auto* runs = w.findChild<QTableWidget*>("runsTable");
    QVERIFY(runs->item(runs->rowCount() - 1, 6)->text().startsWith(QString::number(acc->value * 100, 'f', 1)));
    w.runsPlot()->setMetric(duo::ui::RunsPlot::Metric::Accuracy);
    QCOMPARE(w.runsPlot()->predicted()->dataCount(), 1);
    QCOMPARE(w.runsPlot()->predicted()->data()->constBegin()->value, 100.0 * acc->value);
    QVERIFY(w.runsPlot()->title().contains("kjv-cloze"));
    w.runsPlot()->setMetric(duo::ui::RunsPlot::Metric::Perplexity);
  }

  void cleanupTestCase() { m_w.reset(); }
};

QTEST_MAIN(TestWindowAccuracy)
#include "test_window_accuracy.moc"
