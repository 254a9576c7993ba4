// SPDX-License-Identifier: GPL-3.0-or-later
// DuoGPT against SparseGPT with the defaults a new user gets (duoscope-cli prune --model smollm2,
// W50% + A50%, the default calibration corpus (mix:calib for a model DuoScope did not train),
// window count and alpha), evaluated on the default evaluation corpus (mix:eval), the KJV and the
// man pages, printed as a table (docs/results.md, "Outside the calibration text", has the study
// with seeds, spreads and kinds of text held out of calibration). It asserts what the runs are,
// not how good: the defaults are the mix, the two methods saw the same evaluation windows (equal
// dense perplexities), both damaged the model, and each corpus has the domain its name says.
#include <QtTest>

#include <cmath>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_run.h"

class TestBenchDefaults : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void duogptAgainstSparsegptAtDefaults();
};

namespace {

duo::test::CliRun runCli(const QStringList& args) { return duo::test::runCli(args, 1800000); }

struct Eval {
  double ppl = 0, dense = 0;
  std::string domain;
};

// corpus -> its perplexities, from prune --json (the main evaluation and every --also-eval).
std::map<std::string, Eval> evals(const nlohmann::json& j) {
  std::map<std::string, Eval> m;
  m[j["eval"]["corpus"].get<std::string>()] = {j["eval"]["perplexity"].get<double>(),
                                               j["eval"]["dense_perplexity"].get<double>(), "in-domain"};
  for (const auto& a : j["also_eval"])
    m[a["corpus"].get<std::string>()] = {a["perplexity"].get<double>(), a["dense_perplexity"].get<double>(),
                                         a["domain"].get<std::string>()};
  return m;
}

}  // namespace

void TestBenchDefaults::duogptAgainstSparsegptAtDefaults() {
  if (qEnvironmentVariableIsEmpty("DUO_CLI")) QSKIP("DUO_CLI is not set (run under CTest)");
  if (runCli({"info", "--model", "smollm2"}).code != 0) QSKIP("SmolLM2 GGUF not cached: run scripts/fetch-smollm2.sh");
  // Only the evaluation is bounded (8 windows of the calibration length per corpus); everything
  // that decides the pruned model is the default.
  const QStringList common = {"prune", "--model", "smollm2", "--eval", "--also-eval", "kjv:eval",
                              "--also-eval", "mix:eval:manpages",
                              "--max-windows", "8", "--no-record", "--json"};
  std::map<std::string, std::map<std::string, Eval>> byMethod;
  std::map<std::string, nlohmann::json> runs;
  for (const char* method : {"duogpt", "sparsegpt"}) {
    const auto r = runCli(common + QStringList{"--method", method});
    QVERIFY2(r.code == 0, r.err.constData());
    runs[method] = nlohmann::json::parse(r.out.toStdString());
    byMethod[method] = evals(runs[method]);
  }
  const auto& d = runs["duogpt"];
  qInfo("BENCH defaults: SmolLM2, W%.0f%% + A%.0f%%, calibration %s, %lld windows x %lld tokens, alpha %.2f",
        100 * d["weight_sparsity"].get<double>(), 100 * d["act_sparsity"].get<double>(),
        d["options"]["calib"].get<std::string>().c_str(), static_cast<long long>(d["options"]["nsamples"].get<int64_t>()),
        static_cast<long long>(d["options"]["seqlen"].get<int64_t>()), d["options"]["alpha"].get<double>());
  qInfo("BENCH | corpus | domain | dense ppl | DuoGPT ppl | SparseGPT ppl | DuoGPT / SparseGPT damage |");
  for (const auto& [corpus, duo] : byMethod["duogpt"]) {
    QVERIFY2(byMethod["sparsegpt"].count(corpus), corpus.c_str());
    const Eval& sgpt = byMethod["sparsegpt"][corpus];
    // Same windows, same dense model: the dense perplexities agree.
    QVERIFY2(std::abs(duo.dense - sgpt.dense) <= 1e-6 * duo.dense, corpus.c_str());
    QVERIFY2(duo.ppl > duo.dense && sgpt.ppl > sgpt.dense, corpus.c_str());
    QCOMPARE(duo.domain, sgpt.domain);
    const double ratio = std::log(duo.ppl / duo.dense) / std::log(sgpt.ppl / sgpt.dense);
    qInfo("BENCH | %s | %s | %.3f | %.3f | %.3f | %.3f |", corpus.c_str(), duo.domain.c_str(), duo.dense, duo.ppl,
          sgpt.ppl, ratio);
  }
  QCOMPARE(byMethod["duogpt"].size(), size_t(3));
  QCOMPARE(runs["sparsegpt"]["options"]["nsamples"], d["options"]["nsamples"]);  // both at the model's default
  QCOMPARE(d["options"]["calib"].get<std::string>(), std::string("mix:calib"));  // the default for a model we did not train
  QCOMPARE(d["eval"]["corpus"].get<std::string>(), std::string("mix:eval"));
  // The mix holds the KJV and the man pages: other documents of kinds calibration saw.
  for (const char* corpus : {"mix:eval", "kjv:eval", "mix:eval:manpages"})
    QCOMPARE(byMethod["duogpt"][corpus].domain, std::string("in-domain"));
}

QTEST_GUILESS_MAIN(TestBenchDefaults)
#include "test_bench_defaults.moc"
