// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli bench kernels: median times of BLAS sgemv and our dense, activation-sparse,
// weight-sparse and dual-sparse mat-vec kernels, with achieved and predicted bandwidth.
// JSON keys are an API, documented in docs/cli/bench-kernels.md.
#include <omp.h>

#include <cstdio>
#include <iostream>

#include "app/cli/cli.h"
#include "core/bench/kernel_bench.h"
#include "kernels/matvec.h"

namespace duo::cli {
namespace {

struct BenchKernelsArgs {
  std::int64_t rows = 0, cols = 0;  // 0: the default shapes
  double wSparsity = 0.5;
  double aSparsity = 0.5;
  std::string dtype = "f32";
  bool int8Inputs = false;
  std::string device = "cpu";
  std::string isa;
  int repeats = 30;
  int warmup = 3;
  int threads = 0;
  double rotateMiB = 0;
  bool json = false;
};

// LLaMA-7B's attention and MLP shapes, and SmolLM2-135M's (d 576, ffn 1536).
const std::int64_t kDefaultShapes[][2] = {{4096, 4096}, {4096, 11008}, {11008, 4096},
                                          {576, 576},   {1536, 576},   {576, 1536}};

nlohmann::json timingJson(const perf::KernelTiming& t) {
  return {{"median_us", t.medianUs}, {"min_us", t.minUs},   {"gbs", t.gbs},    {"predicted_us", t.predictedUs},
          {"speedup_vs_blas", t.speedupVsBlas}, {"bytes", t.bytes}, {"error", t.error}};
}

void printTable(const perf::KernelBenchResult& r) {
  const auto& c = r.config;
  std::printf("\n%lld x %lld  w%.2f a%.2f  %s  (%s, strip %d rows, %d rotating copies)\n",
              static_cast<long long>(c.rows), static_cast<long long>(c.cols), c.wSparsity, c.aSparsity,
              kernels::valueTypeName(c.type), r.index.c_str(), r.stripRows, r.copies);
  std::printf("  %-14s %11s %9s %8s %13s %9s %9s\n", "kernel", "median us", "min us", "GB/s", "predicted us", "x BLAS",
              "error");
  for (perf::Kernel k : perf::kAllKernels) {
    const perf::KernelTiming& t = r.at(k);
    std::printf("  %-14s %11.1f %9.1f %8.1f %13.1f %9.2f %9.1e\n", perf::kernelKey(k), t.medianUs, t.minUs, t.gbs,
                t.predictedUs, t.speedupVsBlas, t.error);
  }
}

Registrar reg_bench_kernels("bench-kernels", [](CLI::App& app) {
  auto a = std::make_shared<BenchKernelsArgs>();
  CLI::App& bench = benchVerb(app);
  auto* cmd = bench.add_subcommand("kernels", "Time BLAS sgemv and the dense / act-sparse / weight-sparse / dual-sparse "
                                              "mat-vec kernels beside the bytes model");
  cmd->add_option("--rows", a->rows, "Rows of W (y = W x); with --cols; default: the six standard shapes")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 30));
  cmd->add_option("--cols", a->cols, "Columns of W")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 30));
  cmd->add_option("--w-sparsity", a->wSparsity, "Fraction of weights pruned")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--a-sparsity", a->aSparsity, "Fraction of inputs that are zero")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--dtype", a->dtype, "Weight storage of our kernels: f32 | f16 | bf16 | int8 (one scale per row; CPU BLAS, and cuBLAS for int8, stay f32)")
      ->capture_default_str();
  cmd->add_flag("--int8-inputs", a->int8Inputs,
                "With --dtype int8 on the CPU: the dense and act-sparse kernels round x to int8 in blocks of 32 and "
                "multiply in integers (llama.cpp's Q8_0 arithmetic)");
  cmd->add_option("--device", a->device, "cpu | cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--isa", a->isa, "CPU kernels' instruction set: scalar | avx2 | avx512 | avx512-vnni (default: best available)");
  cmd->add_option("--repeats", a->repeats, "Timed calls per kernel")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", a->warmup, "Untimed calls per kernel first")->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--threads", a->threads, "CPU threads for our kernels and BLAS (default: OpenMP's)")->check(CLI::Range(1, 1024));
  cmd->add_option("--rotate-mib", a->rotateMiB, "Copies of each matrix together exceed this (0: 4x last-level cache)");
  cmd->add_flag("--json", a->json, "Print JSON (keys documented in docs/cli/bench-kernels.md)");
  cmd->callback([a] {
    DUO_CHECK((a->rows == 0) == (a->cols == 0), "bench kernels: give both --rows and --cols, or neither");
    if (a->threads > 0) omp_set_num_threads(a->threads);
    if (!a->isa.empty()) kernels::cpu::setIsa(kernels::cpu::parseIsa(a->isa));
    std::vector<std::array<std::int64_t, 2>> shapes;
    if (a->rows > 0)
      shapes.push_back({a->rows, a->cols});
    else
      for (const auto& s : kDefaultShapes) shapes.push_back({s[0], s[1]});

    auto progress = progressBar(a->json);
    nlohmann::json results = nlohmann::json::array();
    perf::KernelBenchResult last;
    for (const auto& s : shapes) {
      perf::KernelBenchConfig c;
      c.rows = s[0];
      c.cols = s[1];
      c.wSparsity = a->wSparsity;
      c.aSparsity = a->aSparsity;
      c.type = kernels::parseValueType(a->dtype);
      c.cuda = a->device == "cuda";
      c.int8Inputs = a->int8Inputs;
      DUO_CHECK(!c.int8Inputs || (c.type == kernels::ValueType::I8 && !c.cuda),
                "bench kernels: --int8-inputs needs --dtype int8 and --device cpu");
      c.repeats = a->repeats;
      c.warmup = a->warmup;
      c.rotateMiB = a->rotateMiB;
      last = perf::runKernelBench(c, progress);
      nlohmann::json one = {{"rows", c.rows},        {"cols", c.cols},         {"format", last.index},
                            {"strip_rows", last.stripRows}, {"copies", last.copies}};
      for (perf::Kernel k : perf::kAllKernels) one[perf::kernelKey(k)] = timingJson(last.at(k));
      results.push_back(one);
      if (!a->json) {
        finishProgress();
        printTable(last);
      }
    }
    finishProgress();
    nlohmann::json j = {{"device", last.device},
                        {"blas", last.blas},
                        {"threads", last.threads},
                        {"dtype", a->dtype},
                        {"int8_inputs", a->int8Inputs},
                        {"w_sparsity", a->wSparsity},
                        {"a_sparsity", a->aSparsity},
                        {"repeats", a->repeats},
                        {"copy_bandwidth_gbs", last.copyBandwidthGbs},
                        {"read_bandwidth_gbs", last.readBandwidthGbs},
                        {"model_bandwidth_gbs", last.modelBandwidthGbs},
                        {"results", results}};
    // One shape: its kernels also at the top level, so `.dual_sparse.speedup_vs_blas` works.
    if (results.size() == 1)
      for (perf::Kernel k : perf::kAllKernels) j[perf::kernelKey(k)] = results[0][perf::kernelKey(k)];
    if (a->json) {
      printJson(j);
    } else {
      std::printf("\n%s; BLAS: %s\nmemory bandwidth: copy %.1f GB/s, read %.1f GB/s (predicted_us uses %.1f)\n",
                  last.device.c_str(), last.blas.c_str(), last.copyBandwidthGbs, last.readBandwidthGbs,
                  last.modelBandwidthGbs);
    }
  });
});

}  // namespace
}  // namespace duo::cli
