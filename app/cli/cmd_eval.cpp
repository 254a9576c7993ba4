// duoscope-cli eval: perplexity of a model (dense, or a pruned DuoScope checkpoint with its
// activation rule on) over a corpus, SparseGPT/GPTQ windows convention; with --task also
// multiple-choice accuracy (lm-eval-harness scoring, core/eval/accuracy.h).
#include <iostream>

#include "app/cli/cli.h"
#include "core/data/corpus.h"
#include "core/data/mc_task.h"
#include "core/data/windows.h"
#include "core/eval/accuracy.h"
#include "core/eval/checkpoint_rule.h"
#include "core/eval/perplexity.h"
#include "core/job/decode_estimate.h"
#include "core/model/model_loader.h"
#include "core/perf/decode_bench.h"
#include "core/perf/timing_profile.h"
#include "core/prune/act_hook.h"

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
  int taskBatch = 16;  // accuracy requests per forward
  bool measureSpeed = false;
  std::string timing;
};

// The bytes model's decode speedup of a pruned checkpoint: each projection's measured zero fraction
// and its site's activation sparsity from the checkpoint's rule (context 256, as prune reports it).
double predictedCheckpointSpeedup(const LlamaModel& model, const CheckpointActRule& rule,
                                  const perf::TimingProfile* timing = nullptr) {
  const ModelConfig& mc = model.config();
  SparsityConfig sc = SparsityConfig::uniform(static_cast<int>(mc.numLayers), 0.0, 0.0);
  for (int l = 0; l < sc.numLayers(); ++l) {
    const LayerWeights& lw = model.weights().layers[static_cast<size_t>(l)];
    for (int p = 0; p < kNumProj; ++p) {
      const torch::Tensor& w = lw.w(static_cast<Proj>(p));  // [n_out, k_in]
      sc.setWeight(l, static_cast<Proj>(p), w.eq(0).sum().item<double>() / static_cast<double>(w.numel()));
    }
    for (int s = 0; s < kNumSites; ++s)
      sc.setSiteAct(l, static_cast<Site>(s), rule.sparsity.siteAct(l, static_cast<Site>(s)));
  }
  return predictDecodeFor(mc, sc, timing).speedup;
}

Registrar reg("eval", [](CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a model over a corpus (non-overlapping windows, tail dropped)");
  cmd->add_option("--model,-m", a->model, "Model folder/file or alias (tiny, smollm2)")->capture_default_str();
  cmd->add_option("--corpus", a->corpus, "kjv:eval | kjv:calib | FILE.txt | FILE.jsonl")->capture_default_str();
  cmd->add_option("--text", a->text, "A text file to evaluate on (same as --corpus FILE)");
  cmd->add_option("--seqlen", a->seqlen, "Window length in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-windows", a->maxWindows, "Evaluate at most this many windows (0 = all)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Windows per forward")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--device", a->device, "auto | cpu | cuda");
  cmd->add_option("--task", a->task, "Also score a multiple-choice task (JSONL: context, choices, gold)");
  cmd->add_option("--task-batch", a->taskBatch, "Accuracy requests per forward")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_flag("--measure-speed", a->measureSpeed,
                "For a pruned checkpoint: time its decode (batch 1, 32 tokens x 3 repeats) dense vs packed");
  cmd->add_option("--timing", a->timing,
                  "A timing profile from `bench calibrate` (pruned checkpoints): also report its prediction "
                  "(calibrated_speedup); --measure-speed then runs each projection on the kernel it says is fastest");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] {
    const perf::TimingProfile timing = a->timing.empty() ? perf::TimingProfile{} : perf::loadTimingProfile(a->timing);
    auto progress = progressBar();
    LoadedModel m = loadModel(a->model, chooseDevice(a->device), progress);
    const CorpusText corpus = loadCorpus(a->text.empty() ? a->corpus : a->text);
    const auto tokens = m.tokenizer->encode(corpus.text, false);
    const auto windows = consecutiveWindows(tokens, a->seqlen, a->maxWindows);
    // A pruned DuoScope checkpoint carries its activation rule: evaluate with it on.
    const CheckpointActRule rule = readCheckpointActRule(m.info.path, static_cast<int>(m.model->config().numLayers));
    const InputHook hook = rule.present ? makeActivationHook(rule.sparsity, rule.thresholds) : InputHook{};
    const std::string actRule = rule.rule;
    const McTask task = a->task.empty() ? McTask{} : loadMcTask(a->task);  // read first: fail fast
    const PerplexityResult r = evalPerplexity(*m.model, windows, hook, a->batch, progress);
    AccuracyResult acc;
    if (!task.items.empty()) acc = evalAccuracy(*m.model, *m.tokenizer, task, hook, a->taskBatch, progress);
    nlohmann::json j = {{"model", m.info.path}, {"corpus", corpus.name},       {"perplexity", r.perplexity},
                        {"tokens", r.tokens},   {"windows", r.windows},        {"seqlen", r.seqlen},
                        {"seconds", r.seconds}, {"device", m.model->device().str()}, {"act_rule", actRule}};
    if (!task.items.empty()) j["accuracy"] = acc.toJson();
    if (rule.present) j["predicted_speedup"] = predictedCheckpointSpeedup(*m.model, rule);
    if (rule.present && !timing.empty()) {
      j["calibrated_speedup"] = predictedCheckpointSpeedup(*m.model, rule, &timing);
      j["timing"] = a->timing;
    }
    if (a->measureSpeed) {
      DUO_CHECK(rule.present, "--measure-speed: ", m.info.path, " is not a pruned DuoScope checkpoint (no activation ",
                "rule in its config.json); use `bench decode --model ... --w-sparsity ... --a-sparsity ...`");
      const perf::DecodeBenchResult d = perf::measureCheckpointDecode(m.info.path, 32, 3, 0, progress, timing);
      j["measured_speedup"] = d.measuredSpeedup;
      j["cache_resident"] = d.cacheResident;
    }
    finishProgress();
    if (a->json) printJson(j);
    else
      std::cout << "perplexity " << r.perplexity << " over " << r.tokens << " tokens (" << r.windows << " windows of "
                << r.seqlen << ", " << corpus.name << ") in " << r.seconds << " s\n";
    if (!a->json && !task.items.empty())
      std::cout << "accuracy " << acc.acc << " +- " << acc.accStderr << ", acc_norm " << acc.accNorm << " +- "
                << acc.accNormStderr << " over " << acc.items << " items of " << acc.task << " in " << acc.seconds
                << " s\n";
    if (!a->json && j.contains("predicted_speedup")) {
      std::cout << "predicted decode speedup " << j["predicted_speedup"].get<double>();
      if (j.contains("calibrated_speedup"))
        std::cout << ", with the timing profile " << j["calibrated_speedup"].get<double>();
      if (j.contains("measured_speedup")) std::cout << ", measured " << j["measured_speedup"].get<double>();
      if (j.value("cache_resident", false)) std::cout << " (weights fit in the cache: not a memory-bound measurement)";
      std::cout << "\n";
    }
  });
});

}  // namespace
}  // namespace duo::cli
