// SPDX-License-Identifier: GPL-3.0-or-later
// The window driving a real calibration: edit two layers through the table's
// editors, run DuoGPT with a small nsamples, check the plots and runs list against the job's own
// records and result, the run as a core run record (core's RunStore and `duoscope-cli runs list`
// see it, with its measured decode speedup), export and re-import the config; cancel mid-run; a
// responsiveness probe on
// SmolLM2; screenshots of the main states. Everything needing the real pipeline skips, saying
// so, while core's runPrune is a stub.
#include <QAbstractItemDelegate>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QMessageBox>
#include <QProcess>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>
#include <map>

#include <nlohmann/json.hpp>

#include "gui_test_util.h"
#include "ui/compare_dialog.h"
#include "ui/export_controller.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
#include "ui/panels/data_panel.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/sparsity_table.h"
#include "ui/plots/error_heatmap.h"
#include "ui/plots/error_plot.h"
#include "ui/plots/runs_plot.h"
#include "ui/panels/runs_panel.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"
#include "ui/panels/run_panel.h"
#include "core/io/run_store.h"

using duo::ui::JobController;
using duo::ui::MainWindow;
using duo::ui::SparsityModel;
using namespace duo::test;

class TestWindowRun : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    duo::test::useTestSettings("test_window_run");
  }

  void calibrateEditedTableEndToEnd() {
    const QString model = duo::test::jobModelPath();
    QVERIFY2(!model.isEmpty(), "neither the bundled tiny model (resources/models) nor the cached SmolLM2 is on this machine");
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.show();
    QVERIFY(openAndWait(w, model));
    SparsityModel* m = w.sparsityTable()->model();
    const int layers = m->rowCount();
    editCell(w.sparsityTable()->view(), m->index(0, SparsityModel::ColWeight), 60.0);  // layer 0, all 7
    editCell(w.sparsityTable()->view(), m->index(5, SparsityModel::ColAct, m->index(1, 0)), 30.0);  // layer 1 up
    QCOMPARE(w.sparsityTable()->config().at(0, duo::Proj::V).weight, 0.6);
    QCOMPARE(w.sparsityTable()->config().at(1, duo::Proj::Gate).act, 0.3);
    setSmallData(w, 8);
    // The Data tab states the 8 x 64 tokens against DuoGPT's advice for this model, as prune does.
    QVERIFY2(w.dataPanel()->advice().startsWith("512 calibration tokens (8 x 64); DuoGPT advises at least 4,800"),
             qPrintable(w.dataPanel()->advice()));
    w.runPanel()->setMeasureSpeedup(true);
    QSignalSpy finished(w.job(), &JobController::finished);
    w.action("actionCalibrate")->trigger();
    QVERIFY(w.job()->isBusy());
    const QString error = waitForRun(w, 600000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const auto result = finished.first().first().value<duo::RunOutcome>().result;
    QCOMPARE(int(result.records.size()), layers * duo::kNumProj);
    QVERIFY(result.sparsity == w.sparsityTable()->config());

    // The error plot: one bar per layer for each projection, the job's values.
    for (int p = 0; p < duo::kNumProj; ++p) {
      QCPBars* bars = w.errorPlot()->bars(static_cast<duo::Proj>(p));
      QCOMPARE(bars->data()->size(), layers);
      std::map<int, double> expect;
      for (const duo::ProjRecord& r : result.records)
        if (int(r.proj) == p) expect[r.layer] = std::max(r.relError, 1e-7);
      for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
        QCOMPARE(it->value, expect.at(int(it->key)));
    }
    QVERIFY(!w.heatmap()->cellText(1, duo::Proj::Up).isEmpty());

    // The runs list gained a row with the run's perplexity, and the run is on disk.
    auto* runs = w.findChild<QTableWidget*>("runsTable");
    QCOMPARE(runs->rowCount(), 1);
    QVERIFY(result.eval.done);
    QCOMPARE(runs->item(0, 5)->text(), QString::number(result.eval.perplexity, 'f', 3));
    // The run is a core run record: core's RunStore lists it with the same perplexity, and the
    // measured decode speedup (packed kernels, after evaluation in the same worker) is in it.
    const duo::RunStore core(tmp.filePath("runs").toStdString());
    QCOMPARE(core.ids().size(), size_t(1));
    const duo::RunRecord rec = core.load("latest");
    QCOMPARE(rec.findMetric("perplexity", "pruned")->value, result.eval.perplexity);
    {
      const std::string why = finished.first().first().value<duo::RunOutcome>().measureError;
      QVERIFY2(why.empty(), ("decode speedup not measured: " + why).c_str());
    }
    {
      QVERIFY2(rec.measuredSpeedup && *rec.measuredSpeedup > 0, "no measured speedup in the record");
      const auto speed = finished.first().first().value<duo::RunOutcome>().speed;
      QCOMPARE(speed.speedup, *rec.measuredSpeedup);
      QVERIFY(rec.speedCheck && rec.speedCheck->repeats == speed.repeats);
      std::printf("BENCH gui_run predicted_speedup=%.3f measured_speedup=%.3f (%s)\n", rec.predictedSpeedup,
                  *rec.measuredSpeedup, speed.summary().c_str());
      // Measured on the run's kept weights (the keep option, on by default) or a temporary copy.
      QVERIFY(rec.outDir.empty() || QFile::exists(QString::fromStdString(rec.outDir) + "/config.json"));
      QVERIFY(runs->item(0, 7)->text().contains(QString("(%1×").arg(*rec.measuredSpeedup, 0, 'f', 2)));
    }

    // The exported config re-imports identically.
    const QString cfgPath = tmp.filePath("exported.json");
    w.exportController()->exportConfig(cfgPath);
    QVERIFY(duo::SparsityConfig::load(cfgPath.toStdString(), layers) == w.sparsityTable()->config());

    // `duoscope-cli prune` with the same settings reaches the same core call (runJob) with the same
    // defaults: its run record equals the window's in everything but identity, times and the
    // measured speed's values (its settings, the decode steps it timed, included).
    const QString cli = qEnvironmentVariable("DUO_CLI");
    QVERIFY2(!cli.isEmpty() && QFile::exists(cli), "DUO_CLI not set: the CLI comparison needs CTest's environment");
    QProcess proc;
    proc.start(cli, {"prune", "--model", model, "--method", "duogpt", "--config", cfgPath, "--nsamples", "8",
                     "--seqlen", "64", "--seed", "0", "--eval", "--max-windows", "4", "--measure-speed",
                     "--runs-dir", tmp.filePath("cli-runs"), "--json"});
    QVERIFY(proc.waitForFinished(600000));
    const QByteArray out = proc.readAllStandardOutput();
    if (proc.exitCode() != 0) QFAIL(qPrintable("duoscope-cli prune failed: " + proc.readAllStandardError()));
    const nlohmann::json doc = nlohmann::json::parse(out.toStdString());
    const double cliPpl = doc.at("eval").at("perplexity").get<double>();
    QCOMPARE(QString::number(cliPpl, 'f', 3), runs->item(0, 5)->text());
    {
      const duo::RunRecord cliRec = duo::RunStore(tmp.filePath("cli-runs").toStdString()).load("latest");
      QVERIFY(cliRec.speedCheck && rec.speedCheck);
      QCOMPARE(cliRec.speedCheck->tokens, rec.speedCheck->tokens);
      QCOMPARE(cliRec.speedCheck->threads, rec.speedCheck->threads);
      nlohmann::json mine = rec.toJson(), theirs = cliRec.toJson();
      for (nlohmann::json* j : {&mine, &theirs}) {
        for (const char* key : {"id", "created", "timings", "peak_rss_bytes", "out"}) j->erase(key);
        (*j)["speed"].erase("measured");
        (*j)["speed"].erase("measurement");
        for (nlohmann::json& r : (*j)["records"]) r.erase("seconds");
      }
      std::string why;
      QVERIFY2(jsonClose(mine, theirs, "record", 1e-6, &why), why.c_str());
    }

    // `duoscope-cli runs list` on the window's folder lists the window's run, same perplexity.
    QProcess list;
    list.start(cli, {"runs", "list", "--runs-dir", tmp.filePath("runs"), "--json"});
    QVERIFY(list.waitForFinished(60000));
    QCOMPARE(list.exitCode(), 0);
    const nlohmann::json listed = nlohmann::json::parse(list.readAllStandardOutput().toStdString());
    QCOMPARE(int(listed.at("runs").size()), 1);
    QCOMPARE(listed["runs"][0].at("id").get<std::string>(), rec.id);
    QCOMPARE(listed["runs"][0].at("perplexity").get<double>(), result.eval.perplexity);
    QCOMPARE(int(listed.at("errors").size()), 0);
  }

  void twoRunsCompareAndClickToLoad() {
    const QString model = duo::test::jobModelPath();
    QVERIFY2(!model.isEmpty(), "neither the bundled tiny model (resources/models) nor the cached SmolLM2 is on this machine");
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.show();
    QVERIFY(openAndWait(w, model));
    setSmallData(w, 8);
    w.runPanel()->setMeasureSpeedup(false);  // two quick runs; the measurement is covered above
    auto* method = w.findChild<QComboBox*>("method");
    QStringList ids;
    QVector<duo::PruneResult> results;
    for (const char* name : {"duogpt", "sparsegpt"}) {
      method->setCurrentIndex(method->findText(name));
      QSignalSpy finished(w.job(), &JobController::finished);
      QSignalSpy stored(w.runController(), &duo::ui::RunController::runStored);
      w.runController()->calibrate();
      const QString error = waitForRun(w, 600000);
      QVERIFY2(error.isEmpty(), qPrintable(error));
      ids << stored.first().first().toString();
      results << finished.first().first().value<duo::RunOutcome>().result;
    }
    QCOMPARE(w.runStore()->runs().size(), 2);
    QCOMPARE(w.runsPlot()->predicted()->dataCount(), 2);

    // Compare: each side shows its own run's records.
    w.runController()->compareRuns(ids[0], ids[1]);
    auto* dialog = w.findChild<duo::ui::CompareDialog*>("compareDialog");
    QVERIFY(dialog);
    for (int side = 0; side < 2; ++side) {
      duo::ui::ErrorPlot* plot = side == 0 ? dialog->left() : dialog->right();
      for (const duo::ProjRecord& r : results[side].records) {
        auto it = plot->bars(r.proj)->data()->findBegin(r.layer, false);
        QCOMPARE(it->value, std::max(r.relError, 1e-7));
      }
    }
    QCOMPARE(dialog->left()->yAxis->range(), dialog->right()->yAxis->range());
    dialog->close();

    // Click the SparseGPT point in the runs plot: that run is loaded into the window.
    w.plotTabs()->setCurrentWidget(w.runsPlot());
    w.runsPlot()->replot();
    method->setCurrentIndex(method->findText("wanda"));
    const double speedup = results[1].predictedSpeedup, ppl = results[1].eval.perplexity;
    const QPoint at(qRound(w.runsPlot()->xAxis->coordToPixel(speedup)), qRound(w.runsPlot()->yAxis->coordToPixel(ppl)));
    QTest::mouseClick(w.runsPlot(), Qt::LeftButton, Qt::NoModifier, at);
    // Both runs share speedup (same table): the nearer point may be either; the one loaded must
    // be the clicked point's run and the window must show it.
    const QStringList selected = w.runsPanel()->selectedIds();
    QCOMPARE(selected.size(), 1);
    const int k = ids.indexOf(selected.first());
    QVERIFY(k >= 0);
    QCOMPARE(method->currentText(), QString(k == 0 ? "duogpt" : "sparsegpt"));
    for (const duo::ProjRecord& r : results[k].records)
      QCOMPARE(w.errorPlot()->bars(r.proj)->data()->findBegin(r.layer, false)->value, std::max(r.relError, 1e-7));
  }

  void exportCheckpointWritesAModel() {
    const QString model = duo::test::modelPath("tiny");
    QVERIFY2(!model.isEmpty(), "the bundled tiny model is missing (resources/models/duo-tiny-kjv)");
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.show();
    QVERIFY(openAndWait(w, model));
    setSmallData(w, 8);
    const QString ckpt = tmp.filePath("pruned");
    w.runController()->exportCheckpoint(ckpt);
    const QString error = waitForRun(w, 600000);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    // The written folder is a model the window itself can open.
    QVERIFY(QFile::exists(ckpt + "/config.json"));
    QSignalSpy opened(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
    w.modelPanel()->openModel(ckpt);
    QVERIFY(opened.wait(30000));
    QCOMPARE(w.modelPanel()->model().config.numLayers, 4);

    // The sparse-bitmask export (File > Export): compressed-tensors' layout, opens as the same model.
    const QString bitmask = tmp.filePath("pruned-bitmask");
    QVERIFY(w.action("actionExportCheckpointBitmask")->isEnabled());
    w.runController()->exportCheckpoint(bitmask, "sparse-bitmask");
    const QString error2 = waitForRun(w, 600000);
    QVERIFY2(error2.isEmpty(), qPrintable(error2));
    QFile cfg(bitmask + "/config.json");
    QVERIFY(cfg.open(QIODevice::ReadOnly));
    QVERIFY(cfg.readAll().contains("\"sparse-bitmask\""));
    QSignalSpy opened2(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
    w.modelPanel()->openModel(bitmask);
    QVERIFY(opened2.wait(30000));
    QCOMPARE(w.modelPanel()->model().parameters, w.modelPanel()->model().config.parameterCount());

    // With int8 values chosen, a run calibrates the int8 values in and keeps int8 weights, and the
    // dense export of that run is the int8 layout (the same integers: the window opens it).
    QVERIFY(openAndWait(w, model));
    setSmallData(w, 8);
    auto* values = w.findChild<QComboBox*>("decodeValues");
    QVERIFY(values);
    values->setCurrentIndex(values->findText("int8"));
    w.runPanel()->setKeepWeights(true);
    w.runController()->calibrate();
    const QString error3 = waitForRun(w, 600000);
    QVERIFY2(error3.isEmpty(), qPrintable(error3));
    const QString int8Dir = tmp.filePath("pruned-int8");
    w.runController()->exportCheckpoint(int8Dir);  // the run's kept weights copied: a task, no new run
    QVERIFY(QTest::qWaitFor([&] { return QFile::exists(int8Dir + "/duoscope.json"); }, 120000));
    QFile cfg8(int8Dir + "/config.json");
    QVERIFY(cfg8.open(QIODevice::ReadOnly));
    QVERIFY(cfg8.readAll().contains("\"int-quantized\""));
    QFile run8(int8Dir + "/duoscope.json");
    QVERIFY(run8.open(QIODevice::ReadOnly));
    const auto j8 = nlohmann::json::parse(run8.readAll().toStdString());
    QCOMPARE(j8["out_dtype"].get<std::string>(), std::string("I8"));
    QCOMPARE(j8["options"]["int8_rounding"].get<std::string>(), std::string("after"));
    QSignalSpy opened3(w.modelPanel(), &duo::ui::ModelPanel::modelOpened);
    w.modelPanel()->openModel(int8Dir);
    QVERIFY(opened3.wait(30000));
    QCOMPARE(w.modelPanel()->model().config.numLayers, 4);
  }

  void cancelMidRunLeavesNothing() {
    const QString model = duo::test::jobModelPath();
    QVERIFY2(!model.isEmpty(), "neither the bundled tiny model (resources/models) nor the cached SmolLM2 is on this machine");
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.show();
    QVERIFY(openAndWait(w, model));
    setSmallData(w, 32);
    w.runPanel()->setMeasureSpeedup(false);
    const duo::SparsityConfig before = w.sparsityTable()->config();
    QSignalSpy updates(w.job(), &JobController::recordsUpdated);
    QSignalSpy failed(w.job(), &JobController::failed);
    QSignalSpy cancelled(w.job(), &JobController::cancelled);
    QSignalSpy stored(w.runController(), &duo::ui::RunController::runStored);
    const QString ckpt = tmp.filePath("checkpoint");
    duo::test::MidRunLatch latch(duo::test::atStage("calibrate", 3));
    w.job()->setWorkerHook(latch.hook());
    w.runController()->exportCheckpoint(ckpt);  // the same job, writing a pruned model at its end
    QVERIFY2(latch.waitHeld(600000), failed.count() ? qPrintable(failed.first().first().toString()) : "never reached");
    QTRY_VERIFY_WITH_TIMEOUT(updates.count() > 0, 5000);
    QElapsedTimer clock;
    clock.start();
    w.action("actionCancel")->trigger();
    latch.release();
    QVERIFY(cancelled.wait(5000));
    QVERIFY2(clock.elapsed() < 1000, qPrintable(QString("cancel took %1 ms").arg(clock.elapsed())));
    QVERIFY(w.sparsityTable()->config() == before);
    QCOMPARE(stored.count(), 0);
    QCOMPARE(w.runStore()->runs().size(), 0);
    QVERIFY2(!QDir(ckpt).exists() || QDir(ckpt).isEmpty(), "a cancelled export left files behind");
    QVERIFY(w.action("actionCalibrate")->isEnabled());
  }

  void responsivenessWhileCalibratingSmolLM2() {
    const QString model = duo::test::modelPath("smollm2");
    if (model.isEmpty()) QSKIP("SmolLM2 GGUF not in the cache");
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.show();
    QVERIFY(openAndWait(w, model));
    setSmallData(w, 16);
    QSignalSpy failed(w.job(), &JobController::failed);
    QSignalSpy updates(w.job(), &JobController::recordsUpdated);
    // A 5 ms timer on the GUI thread: the longest gap between its ticks is the window's worst stall.
    QElapsedTimer clock;
    qint64 last = 0, worst = 0, ticks = 0;
    QTimer probe;
    probe.setInterval(5);
    connect(&probe, &QTimer::timeout, [&] {
      const qint64 now = clock.elapsed();
      if (ticks++ > 0) worst = std::max(worst, now - last);
      last = now;
    });
    w.runController()->calibrate();
    clock.start();
    probe.start();
    // Probe the first 10 s of the run (loading, then records arriving and plotted), then cancel.
    QTRY_VERIFY_WITH_TIMEOUT(!w.job()->isBusy() || clock.elapsed() > 10000, 30000);
    probe.stop();
    const QString message = failed.count() ? failed.first().first().toString() : QString();
    QVERIFY2(message.isEmpty(), qPrintable(message));
    if (w.job()->isBusy()) {
      QSignalSpy cancelled(w.job(), &JobController::cancelled);
      w.runController()->cancel();
      QVERIFY(cancelled.wait(5000));
    }
    std::printf("BENCH gui_max_gap_ms=%lld (target 50, limit 100) ticks=%lld record_updates=%d\n",
                static_cast<long long>(worst), static_cast<long long>(ticks), int(updates.count()));
    QVERIFY2(worst < 100, qPrintable(QString("GUI thread stalled for %1 ms").arg(worst)));
  }

  void screenshotsOfMainStates() {
    const QString model = duo::test::jobModelPath();
    QVERIFY2(!model.isEmpty(), "neither the bundled tiny model (resources/models) nor the cached SmolLM2 is on this machine");
    QTemporaryDir tmp;
    const QString dir = screenshotDir(tmp);
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.resize(1280, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(openAndWait(w, model));
    w.saveScreenshot(dir + "/model-open.png");
    setSmallData(w, 8);
    QSignalSpy updates(w.job(), &JobController::recordsUpdated);
    QSignalSpy failed(w.job(), &JobController::failed);
    QSignalSpy stored(w.runController(), &duo::ui::RunController::runStored);
    w.runController()->calibrate();
    QTRY_VERIFY_WITH_TIMEOUT(updates.count() >= 2 || failed.count() > 0 || stored.count() > 0, 600000);
    if (failed.count()) {
      const QString message = failed.first().first().toString();
      QFAIL(qPrintable(message));
    }
    if (stored.count() == 0) w.saveScreenshot(dir + "/mid-run.png");
    QTRY_VERIFY_WITH_TIMEOUT(stored.count() > 0 || failed.count() > 0, 600000);
    QCOMPARE(failed.count(), 0);
    w.saveScreenshot(dir + "/results.png");
    w.plotTabs()->setCurrentIndex(1);
    w.saveScreenshot(dir + "/results-heatmap.png");
    for (const char* f : {"model-open.png", "results.png", "results-heatmap.png"}) QVERIFY(!QImage(dir + "/" + f).isNull());
  }
};

QTEST_MAIN(TestWindowRun)
#include "test_window_run.moc"
