// SPDX-License-Identifier: GPL-3.0-or-later
// A real pruning run of the bundled tiny model (DuoGPT W50/A50, few samples) written to a temp
// folder, then: the checkpoint reloads with its activation rule and reproduces the run's
// perplexity exactly (in process and through `duoscope-cli eval`); the run's accuracy equals a
// direct evaluation; the run record carries it; and per-layer inspection (core/eval/inspect)
// reports the achieved sparsities, non-zero errors for the pruned model and zero for the dense one.
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "core/data/cloze_task.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/eval/accuracy.h"
#include "core/common/paths.h"
#include "core/eval/checkpoint_rule.h"
#include "core/eval/inspect.h"
#include "core/eval/perplexity.h"
#include "core/io/run_record.h"
#include "core/job/prune_job.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"
#include "core/prune/act_sparsity.h"

class TestInspect : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void checkpointReproducesPerplexity();
  void cliEvalReproducesPerplexity();
  void accuracyOfTheRun();
  void inspectPrunedModel();
  void inspectDenseAgainstItself();
  void inspectCliJson();
  void benchDecodeOfTheCheckpoint();

 private:
  QTemporaryDir m_dir;
  std::string m_out, m_task;
  duo::PruneResult m_run;
};

void TestInspect::initTestCase() {
  torch::set_num_threads(2);
  m_out = m_dir.filePath("pruned").toStdString();
  m_task = m_dir.filePath("cloze.jsonl").toStdString();
  duo::ClozeOptions o;
  o.items = 24;
  o.seed = 1;
  duo::saveMcTask(m_task, duo::makeClozeTask(duo::loadCorpus("kjv:eval"), o));
  duo::PruneRequest req;
  req.model = "tiny";
  req.method = duo::Method::DuoGpt;
  req.sparsity = duo::SparsityPlan::uniform(0.5, 0.5);
  req.nsamples = 4;
  req.seqlen = 64;
  req.seed = 2;
  req.eval = true;
  req.maxWindows = 4;
  req.taskFile = m_task;
  req.outDir = m_out;
  req.device = "cpu";
  m_run = duo::runPrune(req, {});
  QVERIFY(m_run.eval.done);
  qInfo("tiny DuoGPT W50/A50: ppl %.4f (dense %.4f), acc %.3f (dense %.3f) on %lld items", m_run.eval.perplexity,
        m_run.eval.densePerplexity, m_run.eval.accuracy, m_run.eval.denseAccuracy,
        static_cast<long long>(m_run.eval.taskItems));
}

void TestInspect::checkpointReproducesPerplexity() {
  const auto m = duo::loadModel(m_out, torch::kCPU);
  const auto rule = duo::readCheckpointActRule(m.info.path, static_cast<int>(m.model->config().numLayers));
  QVERIFY(rule.present);
  QCOMPARE(rule.rule, std::string("topk"));
  QVERIFY(rule.sparsity == m_run.sparsity);
  const auto windows = duo::consecutiveWindows(m.tokenizer->encode(duo::loadCorpus("kjv:eval").text, false),
                                               m_run.eval.seqlen, 4);
  const auto r = duo::evalPerplexity(*m.model, windows, duo::makeActivationHook(rule.sparsity, rule.thresholds), 4);
  QCOMPARE(r.tokens, m_run.eval.tokens);
  QCOMPARE(r.perplexity, m_run.eval.perplexity);  // exact: same weights, rule, windows and batches
  // Without its rule the checkpoint is a different model.
  QVERIFY(std::abs(duo::evalPerplexity(*m.model, windows, {}, 4).perplexity - r.perplexity) > 1e-6);
}

void TestInspect::cliEvalReproducesPerplexity() {
  QProcess p;
  p.start(qEnvironmentVariable("DUO_CLI"), {"eval", "--model", QString::fromStdString(m_out), "--seqlen", "64",
                                            "--max-windows", "4", "--device", "cpu", "--task",
                                            QString::fromStdString(m_task), "--json"});
  QVERIFY(p.waitForFinished(120000));
  QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
  const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
  QCOMPARE(j["act_rule"].get<std::string>(), std::string("topk"));
  const double ppl = j["perplexity"].get<double>();
  QVERIFY2(std::abs(ppl - m_run.eval.perplexity) <= 1e-9 * m_run.eval.perplexity,
           qPrintable(QString("cli %1 vs run %2").arg(ppl, 0, 'g', 17).arg(m_run.eval.perplexity, 0, 'g', 17)));
  QCOMPARE(j["accuracy"]["items"].get<int64_t>(), m_run.eval.taskItems);
  QCOMPARE(j["accuracy"]["task"].get<std::string>(), std::string("cloze"));
  QVERIFY(std::abs(j["accuracy"]["acc"].get<double>() - m_run.eval.accuracy) < 1e-12);
}

void TestInspect::accuracyOfTheRun() {
  QCOMPARE(m_run.eval.taskItems, int64_t(24));
  QCOMPARE(m_run.eval.taskName, std::string("cloze"));
  const auto task = duo::loadMcTask(m_task);
  const auto dense = duo::loadModel("tiny", torch::kCPU);
  const auto d = duo::evalAccuracy(*dense.model, *dense.tokenizer, task);
  QCOMPARE(m_run.eval.denseAccuracy, d.acc);
  QCOMPARE(m_run.eval.denseAccuracyNorm, d.accNorm);
  QVERIFY(d.acc > 1.0 / 4);  // the dense model beats chance on its own kind of text
  // The record carries both, with task and item count.
  const auto rec = duo::RunRecord::fromJson(m_run.toJson(), "run");
  QCOMPARE(rec.findMetric("acc", "dense")->value, d.acc);
  QCOMPARE(rec.findMetric("acc", "pruned")->value, m_run.eval.accuracy);
  QCOMPARE(rec.findMetric("acc_norm", "pruned")->count, int64_t(24));
  QCOMPARE(rec.findMetric("perplexity", "pruned")->value, m_run.eval.perplexity);
  QVERIFY(!rec.model.sha256.empty());  // an HF folder is hashed too
}

void TestInspect::inspectPrunedModel() {
  duo::InspectRequest req;
  req.dense = "tiny";
  req.pruned = m_out;
  req.seqlen = 64;
  req.maxWindows = 2;
  req.device = "cpu";
  const auto r = duo::inspectPruned(req);
  const int L = static_cast<int>(m_run.sparsity.numLayers());
  QCOMPARE(static_cast<int>(r.projs.size()), L * duo::kNumProj);
  QCOMPARE(static_cast<int>(r.layers.size()), L);
  QCOMPARE(r.actRule, std::string("topk"));
  QCOMPARE(r.windows, int64_t(2));
  QVERIFY(std::abs(r.weightSparsity - m_run.weightSparsity) < 1e-12);
  for (const auto& p : r.projs) {
    // Achieved weight sparsity equals the calibration record of the same projection.
    for (const auto& rec : m_run.records)
      if (rec.layer == p.layer && rec.proj == p.proj) QVERIFY(std::abs(rec.weightSparsity - p.weightSparsity) < 1e-12);
    // topk zeroes exactly round(0.5 k) per token (plus inputs that are zero already).
    QVERIFY2(p.actSparsity >= 0.5 - 1e-9 && p.actSparsity < 0.52, qPrintable(QString::number(p.actSparsity)));
    QVERIFY(p.relError > 0 && p.relError < 1.0);
  }
  for (const auto& l : r.layers) QVERIFY(l.hiddenRelError > 0);
  qInfo("hidden-state rel. error after the last layer: %.4f", r.layers.back().hiddenRelError);
}

void TestInspect::inspectDenseAgainstItself() {
  duo::InspectRequest req;
  req.dense = "tiny";
  req.pruned = "tiny";
  req.seqlen = 64;
  req.maxWindows = 1;
  req.device = "cpu";
  const auto r = duo::inspectPruned(req);
  QCOMPARE(r.actRule, std::string("none"));
  for (const auto& p : r.projs) {
    QCOMPARE(p.relError, 0.0);
    QVERIFY(p.weightSparsity < 0.01);
  }
  for (const auto& l : r.layers) QCOMPARE(l.hiddenRelError, 0.0);
}

void TestInspect::inspectCliJson() {
  QProcess p;
  p.start(qEnvironmentVariable("DUO_CLI"), {"inspect", "--dense", "tiny", "--pruned", QString::fromStdString(m_out),
                                            "--seqlen", "64", "--max-windows", "1", "--device", "cpu", "--json"});
  QVERIFY(p.waitForFinished(120000));
  QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
  const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
  for (const char* key : {"dense", "pruned", "corpus", "act_rule", "seqlen", "windows", "tokens", "weight_sparsity",
                          "projections", "layers", "seconds"})
    QVERIFY2(j.contains(key), key);
  QCOMPARE(j["projections"].size(), m_run.records.size());
  for (const char* key : {"layer", "proj", "rel_error", "weight_sparsity", "act_sparsity"})
    QVERIFY2(j["projections"][0].contains(key), key);
  QVERIFY(j["layers"][0].contains("hidden_rel_error"));
}

// `bench decode --pruned DIR` times the checkpoint against its own weights run densely (it once took
// --model's default, SmolLM2, as the baseline of a tiny checkpoint); an explicit --model of another
// architecture is refused, naming both.
void TestInspect::benchDecodeOfTheCheckpoint() {
  QProcess p;
  p.start(qEnvironmentVariable("DUO_CLI"), {"bench", "decode", "--pruned", QString::fromStdString(m_out), "--tokens", "2",
                                            "--repeats", "1", "--context", "4", "--no-torch", "--json"});
  QVERIFY(p.waitForFinished(120000));
  QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
  const auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
  QCOMPARE(j["model"].get<std::string>(), j["pruned"].get<std::string>());
  QVERIFY(j["measured_speedup"].get<double>() > 0);
  // The speed check: one pair, its spread and threads, and the tiny model flagged as cache-resident.
  const auto& check = j.at("speed_check");
  QCOMPARE(check.at("repeats").get<int>(), 1);
  QVERIFY(check.at("threads").get<int>() >= 1);
  QVERIFY(check.at("low").get<double>() <= check.at("speedup").get<double>());
  if (j.at("cache_resident").get<bool>()) {
    QCOMPARE(check.at("trusted").get<bool>(), false);
    QCOMPARE(check.at("flags").at(0).get<std::string>(), std::string("cache_resident"));
  }
  QString smol;
  try {
    smol = QString::fromStdString(duo::resolveModelPath("smollm2"));
  } catch (const std::exception&) {  // not cached: resolveModelPath says how to fetch it
  }
  if (smol.isEmpty() || !QFileInfo::exists(smol)) QSKIP("SmolLM2 not in the cache: the architecture check needs a second model");
  p.start(qEnvironmentVariable("DUO_CLI"), {"bench", "decode", "--model", smol, "--pruned", QString::fromStdString(m_out),
                                            "--tokens", "2", "--repeats", "1", "--no-torch"});
  QVERIFY(p.waitForFinished(120000));
  QCOMPARE(p.exitCode(), 1);
  const QString err = p.readAllStandardError();
  QVERIFY2(err.contains("architecture") && err.contains("pruned"), qPrintable(err));
}

QTEST_GUILESS_MAIN(TestInspect)
#include "test_inspect.moc"
