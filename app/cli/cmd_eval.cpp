// duoscope-cli eval: perplexity of a model (dense, or a pruned DuoScope checkpoint with its
// activation rule on) over a corpus, SparseGPT/GPTQ windows convention; with --task also
// multiple-choice accuracy (lm-eval-harness scoring, core/eval/accuracy.h).
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/dist.h"
#include "core/bench/decode_bench.h"
#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/engine/timing_profile.h"
#include "core/job/eval_job.h"

namespace duo::cli {
namespace {

struct EvalArgs {
  std::string model = "tiny";
  std::string corpus = "kjv:eval";
  std::string text;
  int seqlen = 256;
  int maxWindows = 0;
  int batch = 4;
  std::string device;
  bool json = false;
  std::string task;    // multiple-choice JSONL ("" = perplexity only)
  std::string taskFormat = "auto";
  int taskBatch = 16;  // accuracy requests per forward
  bool measureSpeed = false;
  std::string timing;
  bool plan = false;
  bool noMemoryCheck = false;
  DistArgs dist;
};

Registrar reg("eval", [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a model over a corpus (non-overlapping windows, tail dropped)");
  cmd->add_option("--model,-m", a->model, "Model folder/file or alias (tiny, smollm2)")->capture_default_str();
  cmd->add_option("--corpus", a->corpus, duo::kCorpusSourcesHelp)->capture_default_str();
  cmd->add_option("--text", a->text, "A text file to evaluate on (same as --corpus FILE)");
  cmd->add_option("--seqlen", a->seqlen, "Window length in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-windows", a->maxWindows, "Evaluate at most this many windows (0 = all)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Windows per forward")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--device", a->device, "auto | cpu | cuda");
  cmd->add_option("--task", a->task,
                  "Also score a multiple-choice task (JSONL: ours {context, choices, gold} or lm-eval's datasets)");
  cmd->add_option("--task-format", a->taskFormat,
                  "The task file's layout: auto | duoscope | hellaswag | piqa | arc | winogrande | boolq")
      ->capture_default_str();
  cmd->add_option("--task-batch", a->taskBatch, "Accuracy requests per forward")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_flag("--measure-speed", a->measureSpeed,
                "For a pruned checkpoint: time its decode (batch 1, 32 tokens x 3 repeats) dense vs packed");
  cmd->add_option("--timing", a->timing,
                  "A timing profile from `bench calibrate` (pruned checkpoints): also report its prediction "
                  "(calibrated_speedup); --measure-speed then runs each projection on the kernel it says is fastest");
  cmd->add_flag("--plan", a->plan, "Print the memory plan (each term, the total, what is available) and stop");
  cmd->add_flag("--no-memory-check", a->noMemoryCheck, "Run even when the memory plan says it does not fit");
  cmd->add_flag("--json", a->json, "Print JSON");
  addDistOptions(cmd, a->dist);
  cmd->callback([a] {
    EvalRequest req;
    req.model = a->model;
    req.corpus = a->text.empty() ? a->corpus : a->text;
    req.seqlen = a->seqlen;
    req.maxWindows = a->maxWindows;
    req.batch = a->batch;
    req.task = a->task;
    req.taskFormat = a->taskFormat;
    req.taskBatch = a->taskBatch;
    req.device = a->device;
    req.timing = a->timing;
    req.memoryCheck = !a->noMemoryCheck;
    if (a->plan) {
      const MemoryPlan plan = planEval(req);
      if (a->json) printJson(plan.toJson());
      else std::cout << plan.text();
      return;
    }
    req.dist = resolveDist(a->dist);  // --nproc: starts the workers here and leaves with their status
    const bool lead = req.dist.rank == 0;
    auto progress = progressBar(!lead);
    const EvalOutcome o = runEval(req, progress);
    if (!lead) return;  // rank 0 reports
    nlohmann::json j = o.json;
    if (a->measureSpeed) {
      DUO_CHECK(o.pruned, "--measure-speed: ", o.modelPath, " is not a pruned DuoScope checkpoint (no activation ",
                "rule in its config.json); use `bench decode --model ... --w-sparsity ... --a-sparsity ...`");
      const perf::TimingProfile timing = a->timing.empty() ? perf::TimingProfile{} : perf::loadTimingProfile(a->timing);
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
