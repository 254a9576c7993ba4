// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli eval: perplexity of a model (dense, or a pruned DuoScope checkpoint with its
// activation rule on) over a corpus, SparseGPT/GPTQ windows convention; with --task also
// multiple-choice accuracy (lm-eval-harness scoring, core/eval/accuracy.h).
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/dist.h"
#include "app/cli/options.h"
#include "core/bench/decode_bench.h"
#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/engine/timing_profile.h"
#include "core/job/eval_job.h"

namespace duo::cli {
namespace {

struct EvalArgs {
  EvalRequest req;
  std::string text;  // --text FILE: the same as --corpus FILE
  bool json = false;
  bool measureSpeed = false;
  bool plan = false;
  bool noMemoryCheck = false;
  DistArgs dist;
};

Registrar reg_eval("eval", [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a model over a corpus (non-overlapping windows, tail dropped)");
  addModelOption(cmd, a->req.model);
  cmd->add_option("--corpus", a->req.corpus, duo::kModelCorpusSourcesHelp)->capture_default_str();
  cmd->add_option("--text", a->text, "A text file to evaluate on (same as --corpus FILE)");
  addRangeOption(cmd, "--seqlen", a->req.seqlen, "Window length in tokens", 2, 1 << 20);
  cmd->add_option("--max-windows", a->req.maxWindows, "Evaluate at most this many windows (0 = all)")->capture_default_str();
  addRangeOption(cmd, "--batch", a->req.batch, "Windows per forward", 1, 1024);
  addDeviceOption(cmd, a->req.device);
  cmd->add_option("--task", a->req.task,
                  "Also score a multiple-choice task (JSONL: ours {context, choices, gold} or lm-eval's datasets)");
  cmd->add_option("--task-format", a->req.taskFormat,
                  "The task file's layout: auto | duoscope | hellaswag | piqa | arc | winogrande | boolq")
      ->capture_default_str();
  addRangeOption(cmd, "--task-batch", a->req.taskBatch, "Accuracy requests per forward", 1, 4096);
  cmd->add_flag("--measure-speed", a->measureSpeed,
                "For a pruned checkpoint: time its decode (batch 1, 32 tokens x 3 repeats) dense vs packed");
  addTimingOption(cmd, a->req.timing,
                  "for a pruned checkpoint, also report its prediction (calibrated_speedup); --measure-speed then "
                  "runs each projection on the kernel it says is fastest");
  addMemoryPlanOptions(cmd, a->plan, a->noMemoryCheck);
  cmd->add_flag("--json", a->json, "Print JSON");
  addDistOptions(cmd, a->dist);
  cmd->callback([a] {
    EvalRequest req = a->req;
    if (!a->text.empty()) req.corpus = a->text;
    req.memoryCheck = !a->noMemoryCheck;
    if (a->plan) return printMemoryPlan(planEval(req), a->json);
    req.dist = resolveDist(a->dist);  // --nproc: starts the workers here and leaves with their status
    const bool lead = req.dist.rank == 0;
    auto progress = progressBar(!lead);
    const EvalOutcome o = runEval(req, progress);
    if (!lead) return;  // rank 0 reports
    nlohmann::json j = o.json;
    if (a->measureSpeed) {
      DUO_CHECK(o.pruned, "--measure-speed: ", o.modelPath, " is not a pruned DuoScope checkpoint (no activation ",
                "rule in its config.json); use `bench decode --model ... --w-sparsity ... --a-sparsity ...`");
      const perf::TimingProfile timing = req.timing.empty() ? perf::TimingProfile{} : perf::loadTimingProfile(req.timing);
      const perf::DecodeBenchResult d = perf::measureCheckpointDecode(o.modelPath, progress, timing);
      j["measured_speedup"] = d.check.speedup;
      j["cache_resident"] = d.cacheResident;
      j["speed_check"] = d.check.toJson();
    }
    finishProgress();
    if (a->json) {
      printJson(j);
      return;
    }
    std::cout << "perplexity " << j["perplexity"].get<double>() << " over " << j["tokens"].get<int64_t>() << " tokens ("
              << j["windows"].get<int64_t>() << " windows of " << j["seqlen"].get<int>() << ", "
              << j["corpus"].get<std::string>() << ") in " << j["seconds"].get<double>() << " s\n";
    if (j.contains("accuracy")) {
      const auto& acc = j["accuracy"];
      std::cout << "accuracy " << acc["acc"].get<double>() << " +- " << acc["acc_stderr"].get<double>() << ", acc_norm "
                << acc["acc_norm"].get<double>() << " +- " << acc["acc_norm_stderr"].get<double>() << " over "
                << acc["items"].get<int64_t>() << " items of " << acc["task"].get<std::string>() << "\n";
    }
    if (j.contains("predicted_speedup")) {
      std::cout << "predicted decode speedup " << j["predicted_speedup"].get<double>();
      if (j.contains("calibrated_speedup"))
        std::cout << ", with the timing profile " << j["calibrated_speedup"].get<double>();
      std::cout << "\n";
      if (j.contains("speed_check")) printSpeedCheck(SpeedCheck::fromJson(j["speed_check"], "eval"));
    }
  });
});

}  // namespace
}  // namespace duo::cli
