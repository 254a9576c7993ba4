// SPDX-License-Identifier: GPL-3.0-or-later
// Runs: the Pareto front of (speedup, metric), the window's runs as core run records (core's
// RunStore lists them; older window files are converted), the runs plot's points (measured
// speedups as hollow squares) and click-to-load, core's CSV and recipe exports, and workspaces.
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/exports.h"
#include "core/io/recipe_yaml.h"
#include "core/io/run_store.h"
#include "core/io/legacy_runs.h"
#include "core/job/run_job.h"
#include "ui/plots/runs_plot.h"
#include "ui/run_store.h"

using duo::ui::RunEntry;
using duo::ui::RunsPlot;
using duo::ui::RunStore;

namespace {

// A finished run's value as runPrune returns it: per-projection records for every layer of a
// 2-layer model, an evaluation and timings.
duo::PruneResult result(duo::Method method, double w, double a, double ppl, double speedup) {
  duo::PruneResult r;
  r.request.model = "/models/tiny";
  r.request.method = method;
  r.request.nsamples = 8;
  r.request.seqlen = 64;
  r.request.seed = 7;
  r.request.eval = true;
  r.sparsity = duo::SparsityConfig::uniform(2, w, a);
  r.sparsity.setWeight(1, duo::Proj::Down, w + 0.1);
  r.request.sparsity = duo::SparsityPlan::table(r.sparsity);
  for (int l = 0; l < 2; ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      duo::ProjRecord rec;
      rec.layer = l;
      rec.proj = static_cast<duo::Proj>(p);
      rec.weightSparsity = w;
      rec.actSparsity = a;
      rec.relError = 0.01 * (1 + l) * (1 + p) / 3.0;
      rec.relErrorMaskOnly = rec.relError * 1.7;
      rec.seconds = 0.125 * (p + 1);
      r.records.push_back(rec);
    }
  r.eval.done = true;
  r.eval.perplexity = ppl;
  r.eval.densePerplexity = 3.5;
  r.eval.tokens = 4096;
  r.eval.windows = 16;
  r.eval.seqlen = 256;
  r.weightSparsity = w;
  r.actSparsity = a;
  r.predictedSpeedup = speedup;
  r.secondsTotal = 12.5;
  r.device = "cpu";
  r.provenance = {{"seed", 7}};
  return r;
}

}  // namespace

// A measured speedup of exactly `x` with a quiet spread and no flags.
static duo::SpeedCheck measured(double x) {
  duo::SpeedCheck c;
  c.speedup = x;
  c.low = 0.98 * x;
  c.high = 1.02 * x;
  c.repeats = 5;
  c.tokens = 32;
  c.threads = 2;
  return c;
}

class TestRuns : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void paretoFront_data() {
    QTest::addColumn<QVector<QPointF>>("points");
    QTest::addColumn<bool>("lowerIsBetter");
    QTest::addColumn<QVector<int>>("front");
    QTest::newRow("one point") << QVector<QPointF>{{1.5, 4.0}} << true << QVector<int>{0};
    QTest::newRow("dominated in the middle") << QVector<QPointF>{{1.2, 4.0}, {1.5, 4.5}, {1.4, 5.0}, {2.0, 6.0}}
                                             << true << QVector<int>{0, 1, 3};
    QTest::newRow("equal points both kept") << QVector<QPointF>{{1.5, 4.0}, {1.5, 4.0}} << true << QVector<int>{0, 1};
    QTest::newRow("accuracy: higher is better") << QVector<QPointF>{{1.0, 60.0}, {1.5, 62.0}, {2.0, 50.0}}
                                                << false << QVector<int>{1, 2};
    QTest::newRow("same speedup, worse metric dropped") << QVector<QPointF>{{2.0, 5.0}, {2.0, 4.0}} << true
                                                        << QVector<int>{1};
  }
  void paretoFront() {
    QFETCH(QVector<QPointF>, points);
    QFETCH(bool, lowerIsBetter);
    QFETCH(QVector<int>, front);
    QCOMPARE(RunsPlot::paretoFront(points, lowerIsBetter), front);
  }

  void finishedRunBecomesACoreRecord() {
    // What the window stores is core's duoscope.run-record/1, through core's own conversion.
    const duo::RunRecord rec = duo::ui::recordOf(result(duo::Method::DuoGpt, 0.5, 0.5, 4.25, 1.9), measured(1.7));
    const duo::RunRecord back = duo::RunRecord::fromJson(rec.toJson(), "mem");
    QCOMPARE(QString::fromStdString(back.toJson().value("schema", "")), QString("duoscope.run-record/1"));
    QVERIFY(back.measuredSpeedup && *back.measuredSpeedup == 1.7);
    QVERIFY(back.sparsity == rec.sparsity);
    QCOMPARE(back.data.seed, uint64_t(7));
    QCOMPARE(int(back.records.size()), 14);
    QCOMPARE(back.records[5].relError, rec.records[5].relError);
    QVERIFY(back.findMetric("perplexity", "pruned") && back.findMetric("perplexity", "pruned")->value == 4.25);
    QCOMPARE(back.predictedSpeedup, 1.9);
    const duo::ui::RunEntry e = duo::ui::entryOf(back);
    QCOMPARE(e.label(), QString("duogpt W51/A50"));  // mean weight sparsity includes layer 1's down at 60%
    QCOMPARE(e.perplexity(), 4.25);
    QCOMPARE(e.accuracy(), -1.0);
    QCOMPARE(e.measuredSpeedup(), 1.7);
    // Not measured: null in the record.
    QVERIFY(!duo::ui::recordOf(result(duo::Method::Wanda, 0.5, 0, 5, 1.5), {}).measuredSpeedup);
  }

  void storeIsCoresRunStore() {
    QTemporaryDir tmp;
    QString id1, id2;
    {
      RunStore store;
      store.setDirectory(tmp.path());
      QCOMPARE(store.runs().size(), 0);
      id1 = store.add(result(duo::Method::SparseGpt, 0.5, 0.5, 4.5, 1.8)).id;
      id2 = store.add(result(duo::Method::DuoGpt, 0.5, 0.5, 4.2, 1.8), measured(1.6)).id;
      QVERIFY(id1 != id2);
    }
    // Core's store lists the same ids and reads the same numbers.
    const duo::RunStore core(tmp.path().toStdString());
    QCOMPARE(core.ids().size(), size_t(2));
    const duo::RunRecord r2 = core.load(id2.toStdString());
    QCOMPARE(r2.findMetric("perplexity", "pruned")->value, 4.2);
    QCOMPARE(*r2.measuredSpeedup, 1.6);
    // Unreadable files are skipped and reported (naming the file and the field), the rest listed.
    nlohmann::json broken = r2.toJson();
    broken["id"] = "20250101-000000-000-broken";
    broken["records"][3].erase("rel_error");
    duo::writeFileAtomic((tmp.path() + "/20250101-000000-000-broken.json").toStdString(), broken.dump());
    RunStore store;
    QSignalSpy bad(&store, &RunStore::loadFailed);
    store.setDirectory(tmp.path());
    QCOMPARE(store.runs().size(), 2);
    QCOMPARE(bad.count(), 1);
    QVERIFY2(bad.first().at(1).toString().contains("rel_error") && bad.first().at(0).toString().contains("broken"),
             qPrintable(bad.first().at(1).toString()));
    QVERIFY(store.find(id2) && store.find(id2)->perplexity() == 4.2);
    store.remove(id1);
    QVERIFY(!QFile::exists(tmp.path() + "/" + id1 + ".json"));
    RunStore again;
    again.setDirectory(tmp.path());
    QCOMPARE(again.runs().size(), 1);
  }

  void olderWindowRunsAreConverted() {
    // A duoscope.ui-run/1 file the window wrote before core's records: converted in place.
    QTemporaryDir tmp;
    const duo::PruneResult r = result(duo::Method::DuoGpt, 0.5, 0.5, 4.25, 1.9);
    nlohmann::json records = nlohmann::json::array();
    for (const duo::ProjRecord& p : r.records)
      records.push_back({{"layer", p.layer}, {"proj", duo::projName(p.proj)}, {"weight_sparsity", p.weightSparsity},
                         {"act_sparsity", p.actSparsity}, {"rel_error", p.relError},
                         {"rel_error_mask_only", p.relErrorMaskOnly}, {"seconds", p.seconds}});
    const nlohmann::json old = {
        {"schema", "duoscope.ui-run/1"}, {"id", "run-20250301-123005-duogpt"}, {"when", "2025-03-01T12:30:05"},
        {"measured_speedup", 1.7}, {"request", duo::requestToJson(r.request)}, {"sparsity", r.sparsity.toJson()},
        {"records", records},
        {"eval", {{"done", true}, {"perplexity", 4.25}, {"dense_perplexity", 3.5}, {"tokens", 4096}, {"windows", 16},
                  {"seqlen", 256}, {"accuracy", -1}, {"accuracy_norm", -1}, {"dense_accuracy", -1}, {"task_items", 0}}},
        {"weight_sparsity", 0.5}, {"act_sparsity", 0.5}, {"predicted_speedup", 1.9},
        {"seconds", {{"total", 12.5}, {"forward", 1}, {"stats", 1}, {"solve", 1}, {"eval", 1}}},
        {"peak_rss_bytes", 1}, {"device", "cpu"}, {"provenance", nlohmann::json::object()}};
    duo::writeFileAtomic((tmp.path() + "/run-20250301-123005-duogpt.json").toStdString(), old.dump());
    RunStore store;
    store.setDirectory(tmp.path());
    QCOMPARE(store.runs().size(), 1);
    QCOMPARE(store.runs()[0].perplexity(), 4.25);
    QCOMPARE(store.runs()[0].measuredSpeedup(), 1.7);
    const duo::RunRecord onDisk = duo::RunRecord::load((tmp.path() + "/run-20250301-123005-duogpt.json").toStdString());
    QCOMPARE(QString::fromStdString(onDisk.id), QString("run-20250301-123005-duogpt"));
    QCOMPARE(int(onDisk.records.size()), 14);
  }

  void runsPlotPointsFrontAndClick() {
    QTemporaryDir tmp;
    RunStore store;
    store.setDirectory(tmp.path());
    const QString slowGood = store.add(result(duo::Method::DuoGpt, 0.5, 0.3, 4.0, 1.4)).id;
    const QString fastBad = store.add(result(duo::Method::SparseGpt, 0.6, 0.6, 6.0, 2.4)).id;
    const QString dominated = store.add(result(duo::Method::Wanda, 0.5, 0.3, 4.8, 1.3), measured(1.25)).id;
    RunsPlot plot;
    plot.resize(600, 400);
    plot.setRuns(store.runs());
    QCOMPARE(plot.predicted()->dataCount(), 3);
    QCOMPARE(plot.paretoIds(), (QStringList{slowGood, fastBad}));
    QCOMPARE(plot.front()->dataCount(), 2);
    // The measured speedup: a hollow square beside the predicted point, same metric.
    QCOMPARE(plot.measured()->dataCount(), 1);
    QCOMPARE(plot.measured()->data()->constBegin()->key, 1.25);
    QCOMPARE(plot.measured()->data()->constBegin()->value, 4.8);
    QCOMPARE(plot.measured()->scatterStyle().shape(), QCPScatterStyle::ssSquare);
    QCOMPARE(plot.measured()->scatterStyle().brush().style(), Qt::NoBrush);
    plot.setMetric(RunsPlot::Metric::Accuracy);  // no task: no points
    QCOMPARE(plot.predicted()->dataCount(), 0);
    plot.setMetric(RunsPlot::Metric::Perplexity);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.replot();
    QSignalSpy clicked(&plot, &RunsPlot::runClicked);
    const QPoint at(qRound(plot.xAxis->coordToPixel(2.4)), qRound(plot.yAxis->coordToPixel(6.0)));
    QTest::mouseClick(&plot, Qt::LeftButton, Qt::NoModifier, at);
    QCOMPARE(clicked.count(), 1);
    QCOMPARE(clicked.first().first().toString(), fastBad);
    Q_UNUSED(dominated);
  }

  void runsPlotSeparatesInDomainAndHeldOut() {
    // Three runs calibrated on kjv:calib: perplexity on kjv:eval (in-domain), on the manual pages
    // (held out) and on the whole mix (mixed: one of its six kinds is the KJV).
    QTemporaryDir tmp;
    RunStore store;
    store.setDirectory(tmp.path());
    duo::PruneResult a = result(duo::Method::DuoGpt, 0.5, 0.5, 4.0, 1.4);
    a.request.calibSource = "kjv:calib";
    a.request.evalSource = "kjv:eval";
    duo::PruneResult b = result(duo::Method::SparseGpt, 0.5, 0.5, 9.0, 1.5);
    b.request.calibSource = "kjv:calib";
    b.request.evalSource = "mix:eval:manpages";
    duo::PruneResult c = result(duo::Method::Wanda, 0.5, 0.5, 7.0, 1.6);
    c.request.calibSource = "kjv:calib";
    c.request.evalSource = "mix:eval";
    const QString in = store.add(a).id, out = store.add(b).id, mixed = store.add(c).id;
    QCOMPARE(store.find(in)->perplexityDomain(), QString("in-domain"));
    QCOMPARE(store.find(out)->perplexityDomain(), QString("held-out"));
    QCOMPARE(store.find(mixed)->perplexityDomain(), QString("mixed"));
    // The record says it too (data.domains, each metric's domain).
    const nlohmann::json j = store.find(out)->record.toJson();
    QCOMPARE(j["data"]["domains"], nlohmann::json({"kjv"}));
    QCOMPARE(j["metrics"][0]["domain"].get<std::string>(), std::string("held-out"));
    RunsPlot plot;
    plot.setRuns(store.runs());
    QCOMPARE(plot.predicted()->dataCount(), 3);
    QCOMPARE(plot.heldOut()->dataCount(), 2);  // ringed: held-out and mixed
    plot.setDomain(RunsPlot::Domain::InDomain);
    QCOMPARE(plot.predicted()->dataCount(), 1);
    QCOMPARE(plot.predicted()->data()->constBegin()->value, 4.0);
    QCOMPARE(plot.heldOut()->dataCount(), 0);
    QVERIFY2(plot.title().contains("in-domain perplexity"), qPrintable(plot.title()));
    plot.setDomain(RunsPlot::Domain::HeldOut);
    QCOMPARE(plot.predicted()->dataCount(), 2);
    QCOMPARE(plot.paretoIds(), (QStringList{mixed}));  // faster and better than the manpages run
    plot.setDomain(RunsPlot::Domain::All);
    QCOMPARE(plot.predicted()->dataCount(), 3);
    // A run evaluated on both (prune --also-eval): each view shows its own perplexity.
    duo::RunRecord both = store.find(in)->record;
    both.id = "20261203-120000-000-duogpt";
    both.metrics.push_back({"perplexity", "perplexity", "pruned", 11.0, std::nullopt, "mix:eval:gcide", 256, 4096, 16});
    both.predictedSpeedup = 3.0;
    store.insert(both);
    plot.setRuns(store.runs());
    QCOMPARE(plot.predicted()->dataCount(), 4);
    plot.setDomain(RunsPlot::Domain::HeldOut);
    QCOMPARE(plot.predicted()->dataCount(), 3);
    QCOMPARE((plot.predicted()->data()->constEnd() - 1)->value, 11.0);  // fastest: the run evaluated on both
    plot.setDomain(RunsPlot::Domain::InDomain);
    QCOMPARE(plot.predicted()->dataCount(), 2);
    QCOMPARE((plot.predicted()->data()->constEnd() - 1)->value, 4.0);
  }

  void csvAndRecipeAreCores() {
    const duo::PruneResult r = result(duo::Method::DuoGpt, 0.5, 0.5, 4.2, 1.8);
    const QStringList lines =
        QString::fromStdString(duo::recordsCsv(duo::ui::recordOf(r, {}))).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 15);
    QCOMPARE(lines[0], QString("layer,proj,target_weight,target_act,weight_sparsity,act_sparsity,rel_error,"
                               "rel_error_mask_only,seconds"));
    QVERIFY2(lines[14].startsWith("1,down_proj,0.6,0.5,0.5,0.5,"), qPrintable(lines[14]));
    // The table's recipe (no run yet) goes through the same record form.
    const QString yaml = QString::fromStdString(duo::recipeYaml(duo::recordOfRequest(r.request)));
    QVERIFY2(yaml.contains("SparseGPTModifier") && yaml.contains("duoscope_duogpt:"), qPrintable(yaml));
    QVERIFY(yaml.contains("seed: 7"));
    QVERIFY2(yaml.contains("[0.5, 0.6]"), qPrintable(yaml));  // down_proj per layer: layer 1's override
  }
};

QTEST_MAIN(TestRuns)
#include "test_runs.moc"
