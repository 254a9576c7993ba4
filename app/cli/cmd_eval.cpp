// duoscope-cli eval: perplexity of a model (dense, or a pruned DuoScope checkpoint with its
// activation rule on) over a corpus, SparseGPT/GPTQ windows convention.
#include <iostream>

#include "app/cli/cli.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/eval/perplexity.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"

#include <filesystem>
#include <fstream>

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
};

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
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] {
    auto progress = progressBar();
    LoadedModel m = loadModel(a->model, chooseDevice(a->device), progress);
    const CorpusText corpus = loadCorpus(a->text.empty() ? a->corpus : a->text);
    const auto tokens = m.tokenizer->encode(corpus.text, false);
    const auto windows = consecutiveWindows(tokens, a->seqlen, a->maxWindows);
    // A pruned DuoScope checkpoint carries its activation rule: evaluate with it on.
    InputHook hook;
    std::string actRule = "none";
    const std::string cfgPath = m.info.path + "/config.json";
    if (std::filesystem::is_directory(m.info.path) && std::filesystem::exists(cfgPath)) {
      std::ifstream in(cfgPath);
      const auto cfg = nlohmann::json::parse(in, nullptr, false);
      if (!cfg.is_discarded() && cfg.contains("duoscope_activation_sparsity")) {
        const auto& act = cfg["duoscope_activation_sparsity"];
        const int layers = static_cast<int>(m.model->config().numLayers);
        const SparsityConfig sc = SparsityConfig::fromJson(act.at("sparsity"), layers, cfgPath);
        const ActThresholds th = act.contains("thresholds") ? ActThresholds::fromJson(act["thresholds"]) : ActThresholds{};
        hook = makeActivationHook(sc, th);
        actRule = actRuleName(sc.actRule);
      }
    }
    const PerplexityResult r = evalPerplexity(*m.model, windows, hook, a->batch, progress);
    finishProgress();
    nlohmann::json j = {{"model", m.info.path}, {"corpus", corpus.name},       {"perplexity", r.perplexity},
                        {"tokens", r.tokens},   {"windows", r.windows},        {"seqlen", r.seqlen},
                        {"seconds", r.seconds}, {"device", m.model->device().str()}, {"act_rule", actRule}};
    if (a->json) printJson(j);
    else
      std::cout << "perplexity " << r.perplexity << " over " << r.tokens << " tokens (" << r.windows << " windows of "
                << r.seqlen << ", " << corpus.name << ") in " << r.seconds << " s\n";
  });
});

}  // namespace
}  // namespace duo::cli
