// SPDX-License-Identifier: GPL-3.0-or-later
// The window tells the truth about speed and shows only the run it names: a measured
// speedup comes with its spread and thread count and is flagged where it cannot be trusted (in the
// run pane, the runs list and the runs plot, and in the run record); no pane or plot keeps a
// previous or cancelled run's numbers; the error plot's axis follows the model after Load; plot
// titles name the run, model and method; Export > Pruned checkpoint writes the chosen run's kept
// weights without calibrating again; the runs list filters by model; the status bar's peak is
// never below the current value; the title names the model's folder; the window fits 1000x700.
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/device.h"
#include "core/io/run_store.h"
#include "gui_test_util.h"
#include "ui/background_task.h"
#include "ui/job_controller.h"
#include "ui/main_window.h"
#include "ui/panels/run_panel.h"
#include "ui/panels/runs_panel.h"
#include "ui/plots/error_heatmap.h"
#include "ui/plots/error_plot.h"
#include "ui/plots/runs_plot.h"
#include "ui/run_controller.h"
#include "ui/run_store.h"
#include "ui/status_line.h"

using duo::ui::JobController;
using duo::ui::MainWindow;
using namespace duo::test;

namespace {
constexpr int kSpeedupCol = 7;  // runs table: Finished, Model, Run, W, A, Perplexity, Accuracy, Speedup, Time

QString tinyModel() { return qEnvironmentVariable("DUO_RESOURCES_DIR") + "/models/duo-tiny-kjv"; }

// Runs one calibration in `w` and returns the stored run's id ("" and a test failure otherwise).
QString runOnce(MainWindow& w) {
  QSignalSpy stored(w.runController(), &duo::ui::RunController::runStored);
  w.runController()->calibrate();
  const QString error = waitForRun(w, 600000);
  if (!error.isEmpty()) qWarning("run failed: %s", qPrintable(error));
  return stored.count() ? stored.first().first().toString() : QString();
}

// The heatmap shows exactly `records`: each cell holds its record's relative error (NaN where
// there is none), its tooltip names that error, and the rendered picture has that value's colour
// on the scale at the cell's centre.
void checkHeatmapShows(MainWindow& w, const std::vector<duo::ProjRecord>& records) {
  duo::ui::ErrorHeatmap* h = w.heatmap();
  QCPColorMap* map = h->colorMap();
  QCPColorMapData* d = map->data();
  std::set<std::pair<int, int>> filled;
  int layers = 0;
  for (const duo::ProjRecord& r : records) layers = std::max(layers, r.layer + 1);
  QCOMPARE(d->valueSize(), layers);
  QCOMPARE(d->keySize(), duo::kNumProj);
  for (const duo::ProjRecord& r : records) {
    QCOMPARE(d->cell(int(r.proj), r.layer), std::max(r.relError, 1e-9));
    const QString tip = h->cellText(r.layer, r.proj);
    QVERIFY2(tip.contains(QString::number(r.relError, 'e', 3)), qPrintable(tip));
    filled.insert({r.layer, int(r.proj)});
  }
  for (int l = 0; l < layers; ++l)
    for (int p = 0; p < duo::kNumProj; ++p)
      if (!filled.count({l, p})) QVERIFY2(std::isnan(d->cell(p, l)), qPrintable(QString("layer %1 proj %2").arg(l).arg(p)));
  // The colour a user sees: the scale's colour of the value, on the log scale the legend shows.
  w.plotTabs()->setCurrentWidget(h);
  h->replot(QCustomPlot::rpImmediateRefresh);
  const QImage img = h->toPixmap().toImage();
  const QCPRange range = map->dataRange();
  for (const duo::ProjRecord& r : records) {
    const int x = int(std::lround(h->xAxis->coordToPixel(int(r.proj))));
    const int y = int(std::lround(h->yAxis->coordToPixel(r.layer)));
    const QColor want = QColor::fromRgba(map->gradient().color(std::max(r.relError, 1e-9), range, true));
    const QColor got = img.pixelColor(x, y);
    const int diff = std::abs(want.red() - got.red()) + std::abs(want.green() - got.green()) + std::abs(want.blue() - got.blue());
    QVERIFY2(diff <= 6, qPrintable(QString("layer %1 %2: colour %3, the scale gives %4 for %5")
                                       .arg(r.layer).arg(duo::projName(r.proj)).arg(got.name(), want.name()).arg(r.relError)));
  }
}

// A record of `model` with a measured speedup, trusted or not, for the list and plot tests.
duo::RunRecord syntheticRecord(const std::string& id, const std::string& model, double ppl, bool trusted) {
  duo::RunRecord r;
  r.id = id;
  r.created = "2026-12-02T10:00:00Z";
  r.model.path = "/models/" + model;
  r.model.name = model;
  r.method = "duogpt";
  r.sparsity = duo::SparsityConfig::uniform(4, 0.5, 0.5);
  r.weightSparsity = 0.5;
  r.actSparsity = 0.5;
  r.predictedSpeedup = 2.3;
  r.metrics.push_back({"perplexity", "perplexity", "pruned", ppl, std::nullopt, "kjv:eval", 64, 256, 4});
  duo::SpeedSample s;
  s.denseStepSeconds = {0.030, 0.0301, 0.0299, 0.030, 0.0302};
  s.prunedStepSeconds = {0.020, 0.0200, 0.0201, 0.0199, 0.0201};
  s.tokens = 32;
  s.threads = 2;
  s.expectedDenseTokensPerSecond = 50;
  s.denseStepBytes = trusted ? 538e6 : 6.8e6;
  s.lastLevelCacheBytes = 32e6;
  r.speedCheck = duo::assessSpeed(s, {});
  r.measuredSpeedup = r.speedCheck->speedup;
  return r;
}
}  // namespace

class TestWindowTruth : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    useTestSettings("test_window_truth");
    QVERIFY2(QFile::exists(tinyModel() + "/config.json"), "the bundled tiny model is not in DUO_RESOURCES_DIR");
  }

  // One calibration with the speed measurement, then everything that reads it.
  void measuredSpeedCarriesSpreadAndFlags() {
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    QVERIFY(showWithSmallData(w, tinyModel()));
    w.runPanel()->setMeasureSpeedup(true);
    w.runPanel()->setKeepWeights(true);
    QSignalSpy finished(w.job(), &JobController::finished);
    const QString id = runOnce(w);
    QVERIFY(!id.isEmpty());
    QVERIFY2(finished.first().first().value<duo::RunOutcome>().measureError.empty(),
             finished.first().first().value<duo::RunOutcome>().measureError.c_str());
    const auto speed = finished.first().first().value<duo::RunOutcome>().speed;
    QVERIFY(speed.measured());
    QVERIFY(speed.repeats >= 5 && speed.repeats <= 15);
    QVERIFY(speed.low <= speed.speedup && speed.speedup <= speed.high);
    QVERIFY(speed.threads >= 1);
    std::printf("BENCH gui_measure speedup=%.3f low=%.3f high=%.3f pairs=%d threads=%d flags=%s\n", speed.speedup,
                speed.low, speed.high, speed.repeats, speed.threads, speed.warning().c_str());
    // The tiny model's 7 MB fit in any last-level cache of 8 MB or more: never a plain number.
    QVERIFY(speed.denseStepBytes > 0 && speed.lastLevelCacheBytes > 0);
    if (speed.denseStepBytes <= speed.lastLevelCacheBytes) QVERIFY(speed.hasFlag("cache_resident"));

    // The record keeps the check; the pane, the list and the plot show it as it is.
    const duo::RunRecord rec = duo::RunStore(tmp.filePath("runs").toStdString()).load(id.toStdString());
    QVERIFY(rec.speedCheck);
    QCOMPARE(rec.speedCheck->toJson().dump(), speed.toJson().dump());
    QCOMPARE(*rec.measuredSpeedup, speed.speedup);
    const QString pane = w.runPanel()->resultLabel()->text();
    QVERIFY2(pane.contains(QString("%1 thread").arg(speed.threads)), qPrintable(pane));
    QVERIFY2(pane.contains(QString("%1 pairs").arg(speed.repeats)), qPrintable(pane));
    auto* runs = w.findChild<QTableWidget*>("runsTable");
    const QString cell = runs->item(0, kSpeedupCol)->text();
    if (speed.trusted()) {
      QVERIFY(!pane.contains("not trusted"));
      QVERIFY(!cell.contains('?'));
      QCOMPARE(w.runsPlot()->measured()->dataCount(), 1);
      QCOMPARE(w.runsPlot()->measuredSpread()->dataCount(), 1);
    } else {
      QVERIFY2(pane.contains("not trusted"), qPrintable(pane));
      QVERIFY2(cell.contains("?"), qPrintable(cell));
      QVERIFY(runs->item(0, kSpeedupCol)->toolTip().contains(QString::fromStdString(speed.notes.at(0))));
      QCOMPARE(w.runsPlot()->untrusted()->dataCount(), 1);
      QCOMPARE(w.runsPlot()->measured()->dataCount(), 0);
    }

    // A trusted measurement (synthetic record) is a plain square with its spread as error bars.
    w.runStore()->insert(syntheticRecord("20261202-100000-000-duogpt", "duo-tiny-kjv", 31.0, true));
    QVERIFY(w.runsPlot()->measured()->dataCount() >= 1);
    QCOMPARE(w.runsPlot()->measuredSpread()->dataCount(), w.runsPlot()->measured()->dataCount());
    bool plain = false;
    for (int row = 0; row < runs->rowCount(); ++row)
      plain |= runs->item(row, kSpeedupCol)->text().endsWith("×)") && !runs->item(row, kSpeedupCol)->text().contains('?');
    QVERIFY(plain);

    // The run's weights were kept beside its record.
    QVERIFY(QFile::exists(QString::fromStdString(rec.outDir) + "/config.json"));
    QVERIFY(QString::fromStdString(rec.outDir).startsWith(w.runStore()->weightsDirectory()));
  }

  void paneAndPlotsShowOnlyTheRunTheyName() {
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    QVERIFY(showWithSmallData(w, tinyModel()));
    w.runPanel()->setKeepWeights(false);
    const QString first = runOnce(w);
    QVERIFY(!first.isEmpty());
    const duo::RunRecord rec = w.runStore()->find(first)->record;
    const QString label = QString::fromStdString(rec.label());
    checkHeatmapShows(w, rec.records);
    if (QTest::currentTestFailed()) return;
    // Titles name the run, the model and the data.
    for (duo::ui::PlotBase* p : std::initializer_list<duo::ui::PlotBase*>{w.errorPlot(), w.heatmap()}) {
      QVERIFY2(p->title().contains(label) && p->title().contains("duo-tiny-kjv"), qPrintable(p->title()));
      QVERIFY(p->title().contains("kjv:calib"));
    }
    QVERIFY(w.runPanel()->resultLabel()->text().contains("This run"));
    QVERIFY(w.windowTitle().contains("duo-tiny-kjv"));

    // A new run clears the pane at once; cancelled, it leaves no bars and no run name behind.
    QSignalSpy records(w.job(), &JobController::recordsUpdated);
    QSignalSpy cancelled(w.job(), &JobController::cancelled);
    {
      MidRunLatch latch(atStage("calibrate", 3));
      w.job()->setWorkerHook(latch.hook());
      w.runController()->calibrate();
      QVERIFY(w.job()->isBusy());
      QVERIFY(w.runPanel()->resultLabel()->text().isEmpty());
      QVERIFY(latch.waitHeld(120000));
      QTRY_VERIFY_WITH_TIMEOUT(records.count() > 0, 5000);  // partial bars are up
      QVERIFY(w.errorPlot()->bars(duo::Proj::Q)->data()->size() > 0);
      QVERIFY(w.heatmap()->colorMap()->data()->cell(int(duo::Proj::Q), 0) > 0);
      w.runController()->cancel();
    }
    w.job()->setWorkerHook({});
    QVERIFY(cancelled.wait(120000));
    // ... and no heatmap cells: the next run starts from an empty map.
    for (int p = 0; p < duo::kNumProj; ++p) QVERIFY(std::isnan(w.heatmap()->colorMap()->data()->cell(p, 0)));
    for (int p = 0; p < duo::kNumProj; ++p) QCOMPARE(w.errorPlot()->bars(static_cast<duo::Proj>(p))->data()->size(), 0);
    QVERIFY(!w.errorPlot()->title().contains(label));

    // Load shows that run's numbers, named as loaded, and the heatmap its stored records (read back
    // from the run store's file, not from the window's memory); opening a model clears them.
    w.runController()->loadRun(first);
    checkHeatmapShows(w, duo::RunStore(w.runStore()->directory().toStdString()).load(first.toStdString()).records);
    if (QTest::currentTestFailed()) return;
    QVERIFY(w.runPanel()->resultLabel()->text().contains("Loaded run"));
    QVERIFY(w.runPanel()->resultLabel()->text().contains(QString::number(rec.findMetric("perplexity", "pruned")->value, 'f', 3)));
    QVERIFY(w.errorPlot()->title().contains(label));
    QVERIFY(openAndWait(w, tinyModel()));
    QVERIFY(w.runPanel()->resultLabel()->text().isEmpty());
    QVERIFY(!w.errorPlot()->title().contains(label));

    // The exported plot image is titled like the plot (the title fits the picture's width).
    w.runController()->loadRun(first);
    const QString png = tmp.filePath("error.png");
    w.errorPlot()->exportTo(png, 600, 400);
    QVERIFY(QFile(png).size() > 1000);
    QVERIFY(w.errorPlot()->title().contains(label));

    // A run's recorded peak is its own: 1.5 GB touched and freed before the run (as a bigger model
    // opened earlier in the session would) does not show in the record.
    {
      std::vector<char> big(size_t(1500) << 20);
      for (size_t i = 0; i < big.size(); i += 4096) big[i] = 1;
      QVERIFY(duo::peakRssBytes() > (1400ll << 20));
    }
    const QString third = runOnce(w);
    QVERIFY(!third.isEmpty());
    const long long runPeak = w.runStore()->find(third)->record.peakRssBytes;
    std::printf("BENCH gui_run_peak_rss_mb=%.0f\n", runPeak / 1048576.0);
    QVERIFY2(runPeak > 0 && runPeak < (1400ll << 20), qPrintable(QString::number(runPeak)));

    // The status bar's peak is never below the current value.
    w.statusLine()->refreshMemory();
    QVERIFY(w.statusLine()->currentBytes() > 0);
    QVERIFY(w.statusLine()->peakBytes() >= w.statusLine()->currentBytes());
  }

  void errorAxisFollowsTheModelAfterLoad() {
    const QString cli = qEnvironmentVariable("DUO_CLI");
    if (cli.isEmpty() || !QFile::exists(cli)) QSKIP("DUO_CLI not set: this test makes a 6-layer model with the CLI");
    QTemporaryDir tmp;
    const QString six = tmp.filePath("six-layers");
    QProcess make;
    make.start(cli, {"make-random-model", "--out", six, "--layers", "6", "--hidden", "192", "--ffn", "480", "--heads",
                     "6", "--kv-heads", "2", "--vocab", "1024", "--dtype", "f32", "--tokenizer", "tiny"});
    QVERIFY(make.waitForFinished(120000));
    QVERIFY2(make.exitCode() == 0, make.readAllStandardError().constData());

    MainWindow w(nullptr, tmp.filePath("runs"));
    QVERIFY(showWithSmallData(w, tinyModel()));
    w.runPanel()->setKeepWeights(false);
    const QString tinyRun = runOnce(w);
    QVERIFY(!tinyRun.isEmpty());
    QVERIFY(openAndWait(w, six));
    QCOMPARE(w.errorPlot()->xAxis->range().upper, 5.6);
    w.runController()->loadRun(tinyRun);  // recorded on another model: its 4 layers
    QCOMPARE(w.errorPlot()->xAxis->range().upper, 3.6);
    QSignalSpy started(w.job(), &JobController::started);
    w.runController()->calibrate();
    QCOMPARE(started.count(), 1);
    QCOMPARE(w.errorPlot()->xAxis->range().upper, 5.6);  // the open model's 6 layers, at once
    QSignalSpy records(w.job(), &JobController::recordsUpdated);
    QVERIFY(records.wait(120000));
    QCOMPARE(w.errorPlot()->xAxis->range().upper, 5.6);
    QSignalSpy cancelled(w.job(), &JobController::cancelled);
    w.runController()->cancel();
    QVERIFY(cancelled.wait(120000));
  }

  void checkpointExportWritesTheChosenRunsWeights() {
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    QVERIFY(showWithSmallData(w, tinyModel()));
    w.runPanel()->setKeepWeights(true);
    const QString id = runOnce(w);
    QVERIFY(!id.isEmpty());
    const QString kept = QString::fromStdString(w.runStore()->find(id)->record.outDir);
    QVERIFY(QFile::exists(kept + "/model.safetensors"));
    const int rows = w.runStore()->runs().size();

    // Dense: the kept weights, byte for byte, without a calibration and without a new run.
    QSignalSpy jobStarted(w.job(), &JobController::started);
    const QString dense = tmp.filePath("export-dense");
    w.runController()->exportCheckpoint(dense, "dense");
    QVERIFY(w.task()->isBusy());
    QVERIFY2(waitForTask(w, 120000).isEmpty(), "checkpoint export failed");
    QCOMPARE(jobStarted.count(), 0);
    QCOMPARE(w.runStore()->runs().size(), rows);
    QCOMPARE(duo::readFile((dense + "/model.safetensors").toStdString()),
             duo::readFile((kept + "/model.safetensors").toStdString()));
    const auto cfg = nlohmann::json::parse(duo::readFile((dense + "/config.json").toStdString()));
    QVERIFY(cfg.contains("duoscope_activation_sparsity"));  // the activation rule travels with the weights

    // sparse-bitmask: the same model in compressed-tensors' layout; the CLI evaluates both alike.
    const QString bitmask = tmp.filePath("export-bitmask");
    w.runController()->exportCheckpoint(bitmask, "sparse-bitmask");
    QVERIFY2(waitForTask(w, 120000).isEmpty(), "sparse-bitmask export failed");
    QCOMPARE(jobStarted.count(), 0);
    const auto cfgB = nlohmann::json::parse(duo::readFile((bitmask + "/config.json").toStdString()));
    QCOMPARE(cfgB.at("quantization_config").at("sparsity_config").at("format").get<std::string>(),
             std::string("sparse-bitmask"));
    const QString cli = qEnvironmentVariable("DUO_CLI");
    if (!cli.isEmpty() && QFile::exists(cli)) {
      auto ppl = [&](const QString& dir) {
        QProcess p;
        p.start(cli, {"eval", "--model", dir, "--max-windows", "2", "--seqlen", "64", "--json"});
        p.waitForFinished(300000);
        return nlohmann::json::parse(p.readAllStandardOutput().toStdString()).at("perplexity").get<double>();
      };
      QCOMPARE(ppl(bitmask), ppl(dense));
    }

    // A run whose weights were not kept is calibrated again with its own settings, and the list
    // gains no duplicate row.
    w.runPanel()->setKeepWeights(false);
    const QString second = runOnce(w);
    QVERIFY(!second.isEmpty());
    QVERIFY(w.runStore()->find(second)->checkpointDir().isEmpty());
    const int rows2 = w.runStore()->runs().size();
    const QString again = tmp.filePath("export-again");
    w.runController()->loadRun(second);
    w.runController()->exportCheckpoint(again, "dense");
    QVERIFY(w.job()->isBusy());
    QTRY_VERIFY_WITH_TIMEOUT(!w.job()->isBusy(), 600000);
    QVERIFY(QFile::exists(again + "/model.safetensors"));
    QCOMPARE(w.runStore()->runs().size(), rows2);
  }

  void runsListFiltersByModel() {
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    w.show();
    w.runStore()->insert(syntheticRecord("20261202-100000-000-duogpt", "modelA", 30.0, true));
    w.runStore()->insert(syntheticRecord("20261202-100001-000-duogpt", "modelB", 20.0, false));
    w.runStore()->insert(syntheticRecord("20261202-100002-000-duogpt", "modelB", 21.0, true));
    auto* runs = w.findChild<QTableWidget*>("runsTable");
    QCOMPARE(runs->rowCount(), 3);
    QCOMPARE(runs->item(0, 1)->text(), QString("modelA"));
    QCOMPARE(w.runsPlot()->predicted()->dataCount(), 3);
    w.runsPanel()->setFilterModel("modelB");
    QCOMPARE(runs->rowCount(), 2);
    QCOMPARE(w.runsPlot()->predicted()->dataCount(), 2);
    QCOMPARE(w.runsPlot()->untrusted()->dataCount(), 1);
    QVERIFY(w.runsPlot()->title().contains("modelB"));
    w.runsPanel()->setFilterModel("");
    QCOMPARE(runs->rowCount(), 3);
    QVERIFY(w.runsPlot()->title().contains("2 models"));

    // A run whose process was killed (its marker outlived it) is listed as interrupted, not
    // loadable, and Delete forgets it.
    QProcess gone;
    gone.start("sleep", {"0.1"});
    QVERIFY(gone.waitForStarted(10000));
    const qint64 deadPid = gone.processId();
    QVERIFY(gone.waitForFinished(10000));
    duo::RunMarker m;
    m.model = "/models/modelA";
    m.method = "duogpt";
    const duo::RunStore store(tmp.filePath("runs").toStdString());
    store.beginRun(m);
    auto marker = nlohmann::json::parse(duo::readFile(store.markerPathOf(m.id)));
    marker["pid"] = deadPid;  // a process that has ended
    duo::writeFileAtomic(store.markerPathOf(m.id), marker.dump());
    MainWindow again(nullptr, tmp.filePath("runs"));
    auto* runs2 = again.findChild<QTableWidget*>("runsTable");
    QCOMPARE(runs2->rowCount(), 4);
    QVERIFY(runs2->item(3, 2)->text().contains("interrupted"));
    again.runsPanel()->selectRun(QString::fromStdString(m.id));
    QVERIFY(!again.findChild<QPushButton*>("loadRun")->isEnabled());
    again.runStore()->forgetInterrupted(QString::fromStdString(m.id));
    QCOMPARE(runs2->rowCount(), 3);
  }

  void windowFitsFrom1000x700ToFullHd() {
    QTemporaryDir tmp;
    MainWindow w(nullptr, tmp.filePath("runs"));
    QVERIFY(showWithSmallData(w, tinyModel()));
    w.runStore()->insert(syntheticRecord("20261202-100000-000-duogpt", "duo-tiny-kjv", 30.0, false));
    w.runController()->loadRun("20261202-100000-000-duogpt");
    const QString shots = screenshotDir(tmp);
    for (const QSize size : {QSize(1000, 700), QSize(1920, 1080)}) {
      w.resize(size);
      QTest::qWait(200);
      QCOMPARE(w.size(), size);  // no minimum size wider or taller than that
      for (int tab = 0; tab < 4; ++tab) {
        w.plotTabs()->setCurrentIndex(tab);
        QTest::qWait(50);
        auto* plot = qobject_cast<duo::ui::PlotBase*>(w.plotTabs()->currentWidget());
        QVERIFY(plot);
        plot->replot();
        // Every title line and every legend entry lies inside the plot.
        const QFontMetrics fm(plot->font());
        QFont bold = plot->font();
        bold.setBold(true);
        for (const QString& line : plot->displayedTitle().split('\n'))
          QVERIFY2(QFontMetrics(bold).horizontalAdvance(line) <= plot->width(), qPrintable(line));
        for (int i = 0; i < plot->legend->itemCount(); ++i)
          if (auto* item = plot->legend->item(i); item && item->visible())
            QVERIFY2(item->outerRect().right() <= plot->width() && item->outerRect().bottom() <= plot->height(),
                     qPrintable(QString("legend entry %1 of %2 outside at %3x%4").arg(i).arg(plot->objectName()).arg(size.width()).arg(size.height())));
      }
      w.plotTabs()->setCurrentIndex(0);
      w.saveScreenshot(QString("%1/window-%2x%3.png").arg(shots).arg(size.width()).arg(size.height()));
    }
  }
};

QTEST_MAIN(TestWindowTruth)
#include "test_window_truth.moc"
