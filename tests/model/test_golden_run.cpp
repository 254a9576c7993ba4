// SPDX-License-Identifier: GPL-3.0-or-later
// The golden run: the bundled tiny model pruned with DuoGPT at W50% + A50% (topk) with a fixed seed
// must reproduce the checked-in record (tests/data/golden/tiny_duogpt_w50a50.json, written by
// tests/data/golden/make_golden.sh through duoscope-cli). It guards the whole calibration pipeline
// (windows, streams, statistics, solver, masks, thresholds, evaluation) against silent drift.
//
// Tolerances, and why:
// - weight sparsity per projection: 1e-9. Masks prune an exact count per block, so the achieved
//   fraction does not depend on floating-point noise.
// - activation sparsity per projection: 0.01 absolute. topk keeps an exact count per token, but a
//   calibration record averages over tokens where exact zeros (ties) can differ by a few.
// - relative output error per projection: 10% relative (or 1e-4 absolute when tiny). BLAS kernels
//   differ between CPUs (AVX2 vs AVX-512, thread count), and one flipped weight near the mask
//   quantile changes later columns' updates; the mean over all 28 projections must agree within 2%.
// - perplexity (pruned and dense): 1% relative, for the same reason; the dense value is a forward
//   only and must agree within 0.1%.
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/sha256.h"
#include "core/job/prune_job.h"

namespace {
std::string goldenPath() { return std::string(std::getenv("DUO_TEST_DATA_DIR")) + "/golden/tiny_duogpt_w50a50.json"; }
std::string tinyDir() { return std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }
double relDiff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }
}  // namespace

class TestGoldenRun : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void sparsitiesMatch();
  void perLayerErrorsMatch();
  void perplexityMatches();

 private:
  nlohmann::json m_golden;
  duo::PruneResult m_run;
};

void TestGoldenRun::initTestCase() {
  std::ifstream in(goldenPath());
  QVERIFY2(in.good(), ("missing " + goldenPath() + ": run tests/data/golden/make_golden.sh").c_str());
  m_golden = nlohmann::json::parse(in);

  // The golden record belongs to one set of weights: a retrained model needs a new golden file.
  const std::string sha = duo::sha256File(tinyDir() + "/model.safetensors");
  QVERIFY2(m_golden.value("golden_model_sha256", "") == sha,
           "the bundled tiny model changed since the golden run was recorded: run tests/data/golden/make_golden.sh");

  const auto& opt = m_golden["options"];
  duo::PruneRequest req;
  req.model = tinyDir();
  req.method = duo::Method::DuoGpt;
  req.sparsity = duo::SparsityPlan::uniform(0.5, 0.5);
  req.alpha = opt["alpha"].get<double>();
  req.nsamples = opt["nsamples"].get<int>();
  req.seqlen = opt["seqlen"].get<int>();
  req.seed = opt["seed"].get<uint64_t>();
  req.eval = true;
  req.maxWindows = m_golden["eval"]["windows"].get<int>();
  req.device = "cpu";
  m_run = duo::runPrune(req, {});
  QCOMPARE(m_run.records.size(), m_golden["records"].size());
}

void TestGoldenRun::sparsitiesMatch() {
  const auto& g = m_golden["records"];
  for (size_t i = 0; i < m_run.records.size(); ++i) {
    const auto& r = m_run.records[i];
    QCOMPARE(r.layer, g[i]["layer"].get<int>());
    QCOMPARE(QString(duo::projName(r.proj)), QString::fromStdString(g[i]["proj"].get<std::string>()));
    QVERIFY2(std::abs(r.weightSparsity - g[i]["weight_sparsity"].get<double>()) < 1e-9,
             qPrintable(QString("layer %1 %2: weight sparsity %3 vs golden %4").arg(r.layer).arg(duo::projName(r.proj))
                            .arg(r.weightSparsity).arg(g[i]["weight_sparsity"].get<double>())));
    QVERIFY2(std::abs(r.actSparsity - g[i]["act_sparsity"].get<double>()) < 0.01,
             qPrintable(QString("layer %1: act sparsity %2 vs golden %3").arg(r.layer).arg(r.actSparsity)
                            .arg(g[i]["act_sparsity"].get<double>())));
  }
  QVERIFY(std::abs(m_run.weightSparsity - m_golden["weight_sparsity"].get<double>()) < 1e-9);
}

void TestGoldenRun::perLayerErrorsMatch() {
  const auto& g = m_golden["records"];
  double sumRun = 0, sumGolden = 0;
  for (size_t i = 0; i < m_run.records.size(); ++i) {
    const double got = m_run.records[i].relError, want = g[i]["rel_error"].get<double>();
    sumRun += got;
    sumGolden += want;
    QVERIFY2(relDiff(got, want) < 0.10 || std::abs(got - want) < 1e-4,
             qPrintable(QString("layer %1 %2: rel_error %3 vs golden %4").arg(m_run.records[i].layer)
                            .arg(duo::projName(m_run.records[i].proj)).arg(got).arg(want)));
    // DuoGPT's update must beat plain masking on every projection of this model.
    QVERIFY(m_run.records[i].relError < m_run.records[i].relErrorMaskOnly);
  }
  qInfo("mean rel_error %.6f (golden %.6f)", sumRun / g.size(), sumGolden / g.size());
  QVERIFY(relDiff(sumRun, sumGolden) < 0.02);
}

void TestGoldenRun::perplexityMatches() {
  const auto& e = m_golden["eval"];
  qInfo("perplexity %.4f (golden %.4f), dense %.4f (golden %.4f)", m_run.eval.perplexity, e["perplexity"].get<double>(),
        m_run.eval.densePerplexity, e["dense_perplexity"].get<double>());
  QCOMPARE(m_run.eval.tokens, e["tokens"].get<int64_t>());
  QVERIFY(relDiff(m_run.eval.densePerplexity, e["dense_perplexity"].get<double>()) < 1e-3);
  QVERIFY(relDiff(m_run.eval.perplexity, e["perplexity"].get<double>()) < 0.01);
  // Pruning the trained model must visibly hurt it, or the golden run guards nothing.
  QVERIFY(m_run.eval.perplexity > 1.05 * m_run.eval.densePerplexity);
}

QTEST_GUILESS_MAIN(TestGoldenRun)
#include "test_golden_run.moc"
