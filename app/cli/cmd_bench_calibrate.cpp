// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli bench calibrate: times our mat-vec kernels inside our engine's decode step of one
// model on this machine and writes a timing profile (duoscope.timing/1) that prune, eval, allocate, sensitivity
// and bench decode accept with --timing. JSON keys are an API, documented in docs/cli.md.
#include <omp.h>

#include <cstdio>

#include "app/cli/cli.h"
#include "core/bench/calibrate_timing.h"
#include "core/common/error.h"
#include "core/engine/timing_profile.h"

namespace duo::cli {
namespace {

struct BenchCalibrateArgs {
  std::string model = "smollm2";
  std::string out;
  int threads = 0;
  int steps = 24;
  int context = 32;
  std::string values = "f32";
  bool int8Inputs = false;
  bool json = false;
};

Registrar reg_bench_calibrate("bench-calibrate", [](CLI::App& app) {
  auto a = std::make_shared<BenchCalibrateArgs>();
  CLI::App& bench = benchVerb(app);
  auto* cmd = bench.add_subcommand(
      "calibrate", "Time our kernels inside a model's decode step and fit per-kernel lines (a timing profile for --timing)");
  cmd->add_option("--model,-m", a->model, "Model folder/file or alias whose shapes to time")->capture_default_str();
  cmd->add_option("--out", a->out, "Write the timing profile (duoscope.timing/1) here");
  cmd->add_option("--threads", a->threads, "CPU threads (use what decoding will use; default: OpenMP's)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--steps", a->steps, "Timed decode steps per point and kernel")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--context", a->context, "Prompt tokens cached before the timed steps")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--values", a->values, "Weight value storage to time: f32 | f16 | bf16 | int8 (use what decoding will use)")
      ->capture_default_str();
  cmd->add_flag("--int8-inputs", a->int8Inputs,
                "With --values int8: time the int8-input products, for decoding with --int8-inputs");
  cmd->add_flag("--json", a->json, "Print the profile with every timed point as JSON");
  cmd->callback([a] {
    perf::CalibrateConfig c;
    c.model = a->model;
    c.threads = a->threads;
    notePassiveWait(a->threads);
    c.steps = a->steps;
    c.context = a->context;
    c.values = kernels::parseValueType(a->values);
    c.int8Inputs = a->int8Inputs;
    const perf::CalibrationResult r = perf::calibrateTiming(c, progressBar(a->json));
    finishProgress();
    if (!a->out.empty()) perf::saveTimingProfile(a->out, r.profile, r.points);
    if (a->json) {
      nlohmann::json j = nlohmann::json::parse(perf::timingProfileJson(r.profile, r.points));
      j["seconds"] = r.seconds;
      if (!a->out.empty()) j["out"] = a->out;
      printJson(j);
      return;
    }
    std::printf("%s, %s values%s, read bandwidth %.1f GB/s; %.0f s\n", r.profile.device.c_str(),
                kernels::valueTypeName(r.profile.values), r.profile.int8Inputs ? " (int8 inputs)" : "",
                r.profile.readBandwidthGbs, r.seconds);
    std::printf("%-12s %-14s %10s %9s %13s\n", "shape", "kernel", "fixed us", "GB/s", "max residual");
    for (const perf::ShapeTiming& s : r.profile.shapes)
      for (perf::Kernel k : perf::kAllKernels) {
        const perf::CostLine& l = s.at(k);
        if (l.fixedUs <= 0 && l.gbs <= 0) continue;
        std::printf("%5lldx%-6lld %-14s %10.2f %9.1f %12.1f%%\n", static_cast<long long>(s.rows),
                    static_cast<long long>(s.cols), perf::kernelKey(k), l.fixedUs, l.gbs,
                    100 * s.maxResidual[static_cast<std::size_t>(k)]);
      }
    std::printf("rest of a step (attention, norms, RoPE, residuals) at %.0f cached tokens: %.0f us\n",
                r.profile.otherContext, r.profile.otherUs);
    for (const auto& [w, us] : r.profile.topkUs) std::printf("topk over %lld inputs: %.2f us\n", static_cast<long long>(w), us);
    if (!a->out.empty()) std::printf("wrote %s\n", a->out.c_str());
  });
});

}  // namespace
}  // namespace duo::cli
