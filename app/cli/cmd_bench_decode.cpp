// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli bench decode: tokens/s of our engine's KV-cached decode, the dense model against the
// pruned one running its projections through the packed dual-sparse kernels, with the bytes
// model's predicted speedup beside it. JSON keys are an API, documented in docs/cli.md.
#include <cstdio>

#include "app/cli/cli.h"
#include "app/cli/options.h"
#include "core/bench/decode_bench.h"
#include "core/engine/timing_profile.h"

namespace duo::cli {
namespace {

struct BenchDecodeArgs {
  perf::DecodeBenchConfig c;
  bool json = false;
  bool noTorch = false;
  bool noFuse = false;
  std::string timing;
  std::string values = "f32";
};

Registrar reg_bench_decode("bench-decode", [](CLI::App& app) {
  auto a = std::make_shared<BenchDecodeArgs>();
  CLI::App& bench = benchVerb(app);
  auto* cmd = bench.add_subcommand("decode", "Decode tokens/s of our engine: dense vs pruned through the packed "
                                             "dual-sparse kernels, with the bytes model's prediction");
  auto* model = cmd->add_option("--model,-m", a->c.model,
                                "Dense model folder/file or alias (tiny, smollm2); with --pruned: the dense baseline "
                                "(default: the checkpoint's own weights run densely)")
                    ->capture_default_str();
  cmd->add_option("--pruned", a->c.pruned,
                  "A pruned DuoScope checkpoint (its activation rule is applied); without it the dense model gets "
                  "an in-memory magnitude mask at --w-sparsity and topk at --a-sparsity");
  addRangeOption(cmd, "--w-sparsity", a->c.wSparsity, "Magnitude-mask weight sparsity (without --pruned)", 0.0, 0.99);
  addRangeOption(cmd, "--a-sparsity", a->c.aSparsity, "topk activation sparsity (without --pruned)", 0.0, 0.99);
  addRangeOption(cmd, "--tokens,-n", a->c.tokens, "Timed decode steps per repeat", 1, 100000);
  addRangeOption(cmd, "--repeats", a->c.repeats, "Repeats (dense and pruned interleaved)", 1, 1000);
  addRangeOption(cmd, "--max-repeats", a->c.maxRepeats,
                 "Keep adding pairs past --repeats until their speedups' interquartile range is within 5% of the "
                 "median, at most this many (0: exactly --repeats)",
                 0, 1000);
  addRangeOption(cmd, "--context", a->c.context, "Prompt tokens in the KV cache before the timed steps", 1, 1 << 16);
  addRangeOption(cmd, "--batch", a->c.batch, "Sequences decoded together", 1, 64);
  cmd->add_option("--threads", a->c.threads, "CPU threads (default: OpenMP's)")->check(CLI::Range(1, 1024));
  cmd->add_flag("--no-torch", a->noTorch, "Skip the plain LibTorch decode of the dense model");
  cmd->add_flag("--no-fuse", a->noFuse,
                "Run every projection as its own call (default: q/k/v and gate/up, which share an input, as one "
                "product each where they got the same kernel)");
  cmd->add_option("--quality", a->c.qualityCorpus,
                  "Also the pruned engine's perplexity on this corpus, decoded step by step with --values and "
                  "with f32 values (what the value format costs)");
  addRangeOption(cmd, "--quality-windows", a->c.qualityWindows, "Windows for --quality", 1, 64);
  addRangeOption(cmd, "--quality-seqlen", a->c.qualitySeqlen, "Tokens per window for --quality", 2, 8192);
  cmd->add_flag("--profile", a->c.profile,
                "After the timed repeats, one profiled run of each engine: milliseconds per step by part");
  cmd->add_option("--values", a->values,
                  "Weight value storage of both engines, dense and pruned (projections, lm_head, embedding rows): "
                  "f32 | f16 | bf16 | int8 (one scale per output row); the LibTorch baseline stays f32")
      ->capture_default_str();
  cmd->add_flag("--int8-inputs", a->c.int8Inputs,
                "With --values int8: every product rounds its input to int8 in blocks of 32 and multiplies in "
                "integers (llama.cpp's Q8_0 arithmetic); sparse sites run on act_sparse, the others on dense");
  addTimingOption(cmd, a->timing,
                  "the pruned projections of this model run on the kernels it says are fastest, and its "
                  "prediction is reported beside the bytes model's");
  cmd->add_flag("--json", a->json, "Print JSON (keys documented in docs/cli.md)");
  cmd->callback([a, model] {
    // A checkpoint is compared with its own weights run densely unless --model names the baseline.
    if (!a->c.pruned.empty() && model->count() == 0) a->c.model.clear();
    a->c.torchBaseline = !a->noTorch;
    a->c.fuse = !a->noFuse;
    a->c.values = kernels::parseValueType(a->values);
    DUO_CHECK(!a->c.int8Inputs || a->c.values == kernels::ValueType::I8, "bench decode: --int8-inputs needs --values int8");
    notePassiveWait(a->c.threads);
    if (!a->timing.empty()) a->c.timing = perf::loadTimingProfile(a->timing);
    const perf::DecodeBenchResult r = perf::runDecodeBench(a->c, progressBar(a->json));
    finishProgress();
    nlohmann::json j = {{"model", r.model},
                        {"pruned", r.pruned},
                        {"tokens", a->c.tokens},
                        {"repeats", static_cast<int>(r.denseStepSeconds.size())},
                        {"context", a->c.context},
                        {"batch", a->c.batch},
                        {"threads", r.threads},
                        {"values", kernels::valueTypeName(a->c.values)},
                        {"int8_inputs", a->c.int8Inputs},
                        {"fused", a->c.fuse},
                        {"fused_groups", r.fusedGroups},
                        {"weight_sparsity", r.weightSparsity},
                        {"act_sparsity", r.actSparsity},
                        {"act_rule", r.actRule},
                        {"kernels", r.kernels},
                        {"dense_tokens_per_second", r.denseTokensPerSecond},
                        {"pruned_tokens_per_second", r.prunedTokensPerSecond},
                        {"dense_best_tokens_per_second", r.denseBestTokensPerSecond},
                        {"pruned_best_tokens_per_second", r.prunedBestTokensPerSecond},
                        {"dense_step_ms", nlohmann::json::array()},
                        {"pruned_step_ms", nlohmann::json::array()},
                        {"measured_speedup", r.measuredSpeedup},
                        {"best_speedup", r.bestSpeedup},
                        {"predicted_speedup", r.predictedSpeedup},
                        {"predicted_projection_speedup", r.predictedProjectionSpeedup},
                        {"sparsifiable_share", r.sparsifiableShare},
                        {"predicted_dense_tokens_per_second", r.predictedDenseTokensPerSecond},
                        {"predicted_pruned_tokens_per_second", r.predictedPrunedTokensPerSecond},
                        {"read_bandwidth_gbs", r.readBandwidthGbs},
                        {"dense_step_bytes", r.denseStepBytes},
                        {"last_level_cache_bytes", r.lastLevelCacheBytes},
                        {"cache_resident", r.cacheResident},
                        {"max_logit_diff", r.maxLogitDiff},
                        {"logit_scale", r.logitScale},
                        {"loadavg_1m_before_after", {r.loadBefore, r.loadAfter}},
                        {"speed_check", r.check.toJson()}};
    if (r.calibratedSpeedup > 0) {
      j["calibrated_speedup"] = r.calibratedSpeedup;
      j["calibrated_dense_tokens_per_second"] = r.calibratedDenseTokensPerSecond;
      j["calibrated_pruned_tokens_per_second"] = r.calibratedPrunedTokensPerSecond;
      j["timing_threads"] = r.timingThreads;
    }
    for (double s : r.denseStepSeconds) j["dense_step_ms"].push_back(s * 1e3);
    for (double s : r.prunedStepSeconds) j["pruned_step_ms"].push_back(s * 1e3);
    if (a->c.torchBaseline) {
      j["torch_dense_tokens_per_second"] = r.torchTokensPerSecond;
      j["torch_dense_step_ms"] = nlohmann::json::array();
      for (double s : r.torchStepSeconds) j["torch_dense_step_ms"].push_back(s * 1e3);
    }
    auto partsJson = [](const perf::StepParts& p) {
      nlohmann::json pj = {{"sparsify_ms", p.sparsifyMs}, {"lm_head_ms", p.headMs}, {"other_ms", p.otherMs},
                           {"total_ms", p.totalMs}, {"projections_ms", nlohmann::json::object()}};
      const char* names[] = {"q", "k", "v", "o", "gate", "up", "down"};
      for (std::size_t i = 0; i < 7; ++i) pj["projections_ms"][names[i]] = p.projectionsMs[i];
      return pj;
    };
    if (!a->c.qualityCorpus.empty())
      j["quality"] = {{"corpus", a->c.qualityCorpus},
                      {"windows", a->c.qualityWindows},
                      {"seqlen", a->c.qualitySeqlen},
                      {"tokens", r.qualityTokens},
                      {"perplexity", r.qualityPerplexity},
                      {"f32_perplexity", r.qualityF32Perplexity},
                      {"ratio", r.qualityPerplexity / r.qualityF32Perplexity}};
    if (r.profiled) j["step_profile"] = {{"dense", partsJson(r.denseParts)}, {"pruned", partsJson(r.prunedParts)}};
    if (a->json) {
      printJson(j);
      return;
    }
    std::printf("dense:  %s\npruned: %s (weights %.1f%% zero, %s activations %.1f%%)\nvalues: %s%s\nkernels: %s\n",
                r.model.c_str(), r.pruned.c_str(), 100 * r.weightSparsity, r.actRule.c_str(), 100 * r.actSparsity,
                kernels::valueTypeName(a->c.values), a->c.int8Inputs ? " (inputs rounded to int8)" : "",
                r.kernels.c_str());
    std::printf("%-22s %12s %12s\n", "", "tokens/s", "best");
    if (a->c.torchBaseline) std::printf("%-22s %12.1f\n", "dense (LibTorch)", r.torchTokensPerSecond);
    std::printf("%-22s %12.1f %12.1f\n", "dense (our kernels)", r.denseTokensPerSecond, r.denseBestTokensPerSecond);
    std::printf("%-22s %12.1f %12.1f\n", "pruned (packed)", r.prunedTokensPerSecond, r.prunedBestTokensPerSecond);
    std::printf("speedup: measured %.2fx (best %.2fx), predicted %.2fx (projections alone %.2fx, %.0f%% of a dense "
                "step)\nlogits: max |packed - torch| %.2e of %.1f\n",
                r.measuredSpeedup, r.bestSpeedup, r.predictedSpeedup, r.predictedProjectionSpeedup,
                100 * r.sparsifiableShare, r.maxLogitDiff, r.logitScale);
    if (r.calibratedSpeedup > 0)
      std::printf("timing profile %s: predicts %.2fx (%.1f -> %.1f tokens/s)%s\n", a->timing.c_str(),
                  r.calibratedSpeedup, r.calibratedDenseTokensPerSecond, r.calibratedPrunedTokensPerSecond,
                  r.timingThreads != r.threads ? " (measured with a different thread count: recalibrate)" : "");
    if (!a->c.qualityCorpus.empty())
      std::printf("quality on %s (%lld tokens, decoded step by step): perplexity %.4f with %s values, %.4f with f32 "
                  "(%+.2f%%)\n",
                  a->c.qualityCorpus.c_str(), static_cast<long long>(r.qualityTokens), r.qualityPerplexity,
                  kernels::valueTypeName(a->c.values), r.qualityF32Perplexity,
                  100 * (r.qualityPerplexity / r.qualityF32Perplexity - 1));
    if (r.profiled) {
      std::printf("%-10s %8s %8s %8s %8s %8s %8s %8s %9s %8s %8s %8s\n", "ms/step", "q", "k", "v", "o", "gate", "up",
                  "down", "sparsify", "lm_head", "other", "total");
      for (const auto& [name, p] : {std::pair<const char*, const perf::StepParts*>{"dense", &r.denseParts},
                                    {"pruned", &r.prunedParts}}) {
        std::printf("%-10s", name);
        for (double v : p->projectionsMs) std::printf(" %8.3f", v);
        std::printf(" %9.3f %8.3f %8.3f %8.3f\n", p->sparsifyMs, p->headMs, p->otherMs, p->totalMs);
      }
    }
    std::fflush(stdout);
    printSpeedCheck(r.check);
  });
});

}  // namespace
}  // namespace duo::cli
