// SPDX-License-Identifier: GPL-3.0-or-later
// `duoscope-cli bench solver` (docs/cli.md): one calibration site timed phase by phase against the
// machine's plain matmul. Prints each phase's seconds, GFLOP/s and fraction of that matmul, at a
// SmolLM2 site (k = 576) kept small in tokens, and asserts the report's accounting, which
// docs/results.md's rates and floors rest on: the phases and their order per method, each phase's
// nominal FLOP count from k, n and the tokens, the solve as the fastest of the repeats with its
// phases summed, GFLOP/s and of_peak consistent with the seconds, and the refusals of bad flags.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_run.h"

class TestBenchSolver : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void phasesAndCounts_data();
  void phasesAndCounts();
  void refusesBadFlags_data();
  void refusesBadFlags();
};

namespace {

using duo::test::runCli;

bool near(double a, double b, double rel = 1e-9) { return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)); }

}  // namespace

void TestBenchSolver::phasesAndCounts_data() {
  QTest::addColumn<QString>("method");
  QTest::newRow("duogpt") << "duogpt";
  QTest::newRow("sparsegpt") << "sparsegpt";
}

void TestBenchSolver::phasesAndCounts() {
  QFETCH(QString, method);
  if (qEnvironmentVariableIsEmpty("DUO_CLI")) QSKIP("DUO_CLI is not set (run under CTest)");
  const double k = 576, n = 192, tokens = 1024, block = 128;
  const int repeat = 3;
  const auto r = runCli({"bench", "solver", "--method", method, "--k", "576", "--n", "192", "--tokens", "1024",
                        "--repeat", QString::number(repeat), "--threads", "2", "--json"});
  QVERIFY2(r.code == 0, r.err.constData());
  const auto j = nlohmann::json::parse(r.out.toStdString());
  for (const char* key : {"k", "n", "tokens", "method", "block_size", "threads", "peak_gflops", "phases", "repeat",
                          "solve_runs", "load_before", "load_after"})
    QVERIFY2(j.contains(key), key);
  QCOMPARE(j["k"].get<double>(), k);
  QCOMPARE(j["method"].get<std::string>(), method.toStdString());
  const double peak = j["peak_gflops"].get<double>();
  QVERIFY(peak > 0 && std::isfinite(peak));

  const bool duo = method == "duogpt";
  std::vector<std::string> names;
  for (const auto& ph : j["phases"]) names.push_back(ph["phase"].get<std::string>());
  std::vector<std::string> expected{"stats", "cholesky", "inverse"};
  if (duo) expected.push_back("residual");
  for (const char* s : {"masks", "sweep", "update", "solve"}) expected.push_back(s);
  QVERIFY(names == expected);

  // Each phase's nominal count (docs/cli.md): the statistics as their upper triangles' own flops,
  // k (k + 1) per token each (H, and DuoGPT's M); the factor and the residual in k^3/3 units; the
  // sweep and lazy updates from n, k and the block width, once more for DuoGPT's residual term.
  const double mats = duo ? 2 : 1, sweepCols = 32;
  auto flopsOf = [&](const std::string& name) {
    for (const auto& ph : j["phases"])
      if (ph["phase"] == name) return ph["flops"].get<double>();
    return -1.0;
  };
  QVERIFY(near(flopsOf("stats"), mats * tokens * k * (k + 1)));
  QVERIFY(near(flopsOf("cholesky"), k * k * k / 3));
  QVERIFY(near(flopsOf("inverse"), k * k * k / 3));
  if (duo) QVERIFY(near(flopsOf("residual"), 2 * k * k * k / 3));
  QCOMPARE(flopsOf("masks"), 0.0);
  QVERIFY(near(flopsOf("sweep"), mats * n * k * sweepCols));
  QVERIFY(near(flopsOf("update"), mats * n * k * (k - block) + mats * n * k * (block - sweepCols)));
  double solveFlops = 0, phaseSeconds = 0;
  for (const auto& ph : j["phases"])
    if (ph["phase"] != "stats" && ph["phase"] != "solve") {
      solveFlops += ph["flops"].get<double>();
      phaseSeconds += ph["seconds"].get<double>();
    }
  QVERIFY(near(flopsOf("solve"), solveFlops));

  // The solve reported is the fastest repeat; its phases were timed inside it.
  const auto runs = j["solve_runs"].get<std::vector<double>>();
  QCOMPARE(int(runs.size()), repeat);
  const double fastest = *std::min_element(runs.begin(), runs.end());
  qInfo("BENCH solver %s k=%.0f n=%.0f tokens=%.0f: matmul %.1f GFLOP/s", method.toUtf8().constData(), k, n, tokens,
        peak);
  for (const auto& ph : j["phases"]) {
    const double s = ph["seconds"].get<double>(), f = ph["flops"].get<double>();
    QVERIFY(s >= 0 && std::isfinite(s));
    if (s > 0) {
      QVERIFY(near(ph["gflops"].get<double>(), f / s * 1e-9, 1e-6));
      QVERIFY(near(ph["of_peak"].get<double>(), ph["gflops"].get<double>() / peak, 1e-6));
    }
    if (ph["phase"] == "solve") QVERIFY(near(s, fastest));
    qInfo("BENCH | %-8s | %9.5f s | %7.1f GFLOP/s | %5.1f%% of the matmul |", ph["phase"].get<std::string>().c_str(), s,
          ph["gflops"].get<double>(), 100 * ph["of_peak"].get<double>());
  }
  QVERIFY2(phaseSeconds <= fastest * (1 + 1e-9), "the solver's phases add up to more than the solve they were timed in");
}

void TestBenchSolver::refusesBadFlags_data() {
  QTest::addColumn<QStringList>("args");
  QTest::addColumn<QString>("message");
  QTest::newRow("method") << QStringList{"--method", "wanda"} << "is not duogpt or sparsegpt";
  QTest::newRow("k") << QStringList{"--k", "4"} << "--k: Value 4 not in range 8";
  QTest::newRow("repeat") << QStringList{"--repeat", "0"} << "--repeat: Value 0 not in range 1";
}

void TestBenchSolver::refusesBadFlags() {
  QFETCH(QStringList, args);
  QFETCH(QString, message);
  if (qEnvironmentVariableIsEmpty("DUO_CLI")) QSKIP("DUO_CLI is not set (run under CTest)");
  const auto r = runCli(QStringList{"bench", "solver", "--n", "8", "--tokens", "64"} + args);
  QVERIFY(r.code != 0);
  QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
}

QTEST_GUILESS_MAIN(TestBenchSolver)
#include "test_bench_solver.moc"
