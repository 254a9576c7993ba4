// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli bench solver: one calibration site (statistics and OBS solve) timed phase by phase
// against a plain matmul measured in the same run. JSON keys are an API, documented in docs/cli.md.
#include <cstdio>

#include "app/cli/cli.h"
#include "core/bench/solver_bench.h"

namespace duo::cli {
namespace {

Registrar reg_bench_solver("bench-solver", [](CLI::App& app) {
  auto c = std::make_shared<perf::SolverBenchConfig>();
  auto json = std::make_shared<bool>(false);
  CLI::App& bench = benchVerb(app);
  auto* cmd = bench.add_subcommand(
      "solver", "Time one site's statistics and OBS solve phase by phase against this machine's matmul rate");
  cmd->add_option("--k", c->k, "Input width (columns of W)")->capture_default_str()->check(CLI::Range(8, 1 << 20));
  cmd->add_option("--n", c->n, "Output rows of W")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--tokens", c->tokens, "Calibration tokens (nsamples x seqlen)")->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--method", c->method, "duogpt | sparsegpt")->capture_default_str();
  cmd->add_option("--block-size", c->blockSize, "OBS block size")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", c->threads, "CPU threads (default: OpenMP's)")->check(CLI::Range(1, 1024));
  cmd->add_option("--repeat", c->repeat, "Solves of the same statistics; the fastest one's phases are shown")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", *json, "Print the result as JSON");
  cmd->callback([c, json] {
    const perf::SolverBenchResult r = perf::runSolverBench(*c);
    if (*json) {
      nlohmann::json ph = nlohmann::json::array();
      for (const auto& p : r.phases)
        ph.push_back({{"phase", p.name}, {"seconds", p.seconds}, {"flops", p.flops}, {"gflops", p.gflops()},
                      {"of_peak", r.peakGflops > 0 ? p.gflops() / r.peakGflops : 0}});
      printJson({{"k", r.config.k}, {"n", r.config.n}, {"tokens", r.config.tokens}, {"method", r.config.method},
                 {"block_size", r.config.blockSize}, {"threads", r.threads}, {"peak_gflops", r.peakGflops},
                 {"repeat", r.config.repeat}, {"solve_runs", r.solveRuns}, {"phases", ph},
                 {"load_before", r.loadBefore}, {"load_after", r.loadAfter}});
      return;
    }
    std::printf("%s, k %lld, n %lld, %lld tokens, %d threads; plain matmul %.1f GFLOP/s (load %.2f -> %.2f)\n",
                r.config.method.c_str(), static_cast<long long>(r.config.k), static_cast<long long>(r.config.n),
                static_cast<long long>(r.config.tokens), r.threads, r.peakGflops, r.loadBefore, r.loadAfter);
    std::printf("%-9s %9s %10s %9s %8s\n", "phase", "seconds", "GFLOP", "GFLOP/s", "of peak");
    for (const auto& p : r.phases)
      std::printf("%-9s %9.4f %10.2f %9.1f %7.0f%%\n", p.name.c_str(), p.seconds, p.flops * 1e-9, p.gflops(),
                  r.peakGflops > 0 ? 100 * p.gflops() / r.peakGflops : 0.0);
    if (r.solveRuns.size() > 1) {
      std::printf("solve runs (s):");
      for (const double s : r.solveRuns) std::printf(" %.4f", s);
      std::printf("  (phases from the fastest)\n");
    }
    if (r.loadBefore > 0.5 * r.threads)
      std::printf("note: the machine was busy (load %.2f): these times are not to be trusted\n", r.loadBefore);
  });
});

}  // namespace
}  // namespace duo::cli
