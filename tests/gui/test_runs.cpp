// Runs: the Pareto front of (speedup, metric), run documents that round-trip through disk, the
// run store's listing and deletion, the runs plot's points and click-to-load, exports (CSV,
// recipe YAML) and workspaces.
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "ui/exporter.h"
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
  r.request.sparsity = r.sparsity;
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

  void runDocumentRoundTrips() {
    RunEntry run;
    run.id = "run-1";
    run.when = QDateTime(QDate(2025, 3, 1), QTime(12, 30, 5));
    run.result = result(duo::Method::DuoGpt, 0.5, 0.5, 4.25, 1.9);
    run.measuredSpeedup = 1.7;
    const RunEntry back = duo::ui::runFromJson(duo::ui::runToJson(run), "mem");
    QCOMPARE(back.id, run.id);
    QCOMPARE(back.when, run.when);
    QCOMPARE(back.measuredSpeedup, 1.7);
    QVERIFY(back.result.sparsity == run.result.sparsity);
    QVERIFY(back.result.request.sparsity == run.result.request.sparsity);
    QCOMPARE(back.result.request.seed, uint64_t(7));
    QCOMPARE(int(back.result.records.size()), 14);
    for (size_t i = 0; i < back.result.records.size(); ++i) {
      QCOMPARE(back.result.records[i].relError, run.result.records[i].relError);
      QCOMPARE(back.result.records[i].proj, run.result.records[i].proj);
    }
    QCOMPARE(back.result.eval.perplexity, 4.25);
    QCOMPARE(back.result.predictedSpeedup, 1.9);
    QCOMPARE(back.label(), QString("duogpt W51/A50"));  // mean weight sparsity includes layer 1's down at 60%
  }

  void malformedRunDocumentNamesTheFile() {
    nlohmann::json j = duo::ui::runToJson(RunEntry{"run-x", QDateTime::currentDateTime(), result(duo::Method::Wanda, 0.5, 0, 5, 1.5), 0});
    j["records"][3].erase("rel_error");
    try {
      duo::ui::runFromJson(j, "/w/run-x.json");
      QFAIL("expected an error");
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains("/w/run-x.json") && QString(e.what()).contains("rel_error"), e.what());
    }
  }

  void storePersistsListsAndDeletes() {
    QTemporaryDir tmp;
    QString id1, id2;
    {
      RunStore store;
      store.setDirectory(tmp.path());
      QCOMPARE(store.runs().size(), 0);
      id1 = store.add(result(duo::Method::SparseGpt, 0.5, 0.5, 4.5, 1.8)).id;
      id2 = store.add(result(duo::Method::DuoGpt, 0.5, 0.5, 4.2, 1.8)).id;
      QVERIFY(id1 != id2);
    }
    // Unreadable files are skipped and reported, the rest listed.
    duo::writeFileAtomic((tmp.path() + "/run-broken.json").toStdString(), "{");
    RunStore store;
    QSignalSpy bad(&store, &RunStore::loadFailed);
    store.setDirectory(tmp.path());
    QCOMPARE(store.runs().size(), 2);
    QCOMPARE(bad.count(), 1);
    QVERIFY(store.find(id2) && store.find(id2)->result.eval.perplexity == 4.2);
    store.remove(id1);
    QVERIFY(!QFile::exists(tmp.path() + "/" + id1 + ".json"));
    RunStore again;
    again.setDirectory(tmp.path());
    QCOMPARE(again.runs().size(), 1);
  }

  void runsPlotPointsFrontAndClick() {
    QTemporaryDir tmp;
    RunStore store;
    store.setDirectory(tmp.path());
    const QString slowGood = store.add(result(duo::Method::DuoGpt, 0.5, 0.3, 4.0, 1.4)).id;
    const QString fastBad = store.add(result(duo::Method::SparseGpt, 0.6, 0.6, 6.0, 2.4)).id;
    const QString dominated = store.add(result(duo::Method::Wanda, 0.5, 0.3, 4.8, 1.3)).id;
    RunsPlot plot;
    plot.resize(600, 400);
    plot.setRuns(store.runs());
    QCOMPARE(plot.predicted()->dataCount(), 3);
    QCOMPARE(plot.paretoIds(), (QStringList{slowGood, fastBad}));
    QCOMPARE(plot.front()->dataCount(), 2);
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

  void csvAndRecipe() {
    const duo::PruneResult r = result(duo::Method::DuoGpt, 0.5, 0.5, 4.2, 1.8);
    const QStringList lines = QString::fromStdString(duo::ui::recordsCsv(r.records)).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 15);
    QCOMPARE(lines[0], QString("layer,proj,weight_sparsity,act_sparsity,rel_error,rel_error_mask_only,seconds"));
    QVERIFY2(lines[14].startsWith("1,down_proj,0.5,0.5,"), qPrintable(lines[14]));
    const QString yaml = QString::fromStdString(duo::ui::recipeYaml(r.request, r.sparsity));
    QVERIFY(yaml.contains("name: duogpt"));
    QVERIFY(yaml.contains("seed: 7"));
    QVERIFY(yaml.contains("down_proj: [0.6, 0.5]"));  // layer 1's override
  }

  void workspaceRoundTrips() {
    QTemporaryDir tmp;
    duo::ui::Workspace ws;
    ws.request = result(duo::Method::DuoGpt, 0.55, 0.45, 0, 0).request;
    ws.request.calibSource = "/data/calib.jsonl";
    ws.runs.append(RunEntry{"run-a", QDateTime(QDate(2025, 1, 2), QTime(3, 4, 5)), result(duo::Method::Teal, 0, 0.5, 4.0, 1.5), 0});
    const QString path = tmp.filePath("ws.json");
    duo::ui::saveWorkspace(path, ws);
    const duo::ui::Workspace back = duo::ui::loadWorkspace(path);
    QVERIFY(back.request.sparsity == ws.request.sparsity);
    QCOMPARE(QString::fromStdString(back.request.calibSource), QString("/data/calib.jsonl"));
    QCOMPARE(back.runs.size(), 1);
    QCOMPARE(back.runs[0].id, QString("run-a"));
    QVERIFY(back.runs[0].result.request.method == duo::Method::Teal);
    // Not a workspace: the message names the file.
    duo::writeFileAtomic(tmp.filePath("other.json").toStdString(), R"({"schema": "duoscope.sparsity/1"})");
    try {
      duo::ui::loadWorkspace(tmp.filePath("other.json"));
      QFAIL("expected an error");
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains("other.json"), e.what());
    }
  }
};

QTEST_MAIN(TestRuns)
#include "test_runs.moc"
