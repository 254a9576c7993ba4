// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli bench forward: CPU float32 tokens/s of our forward pass (prefill) and of KV-cached
// single-token decode, measured like scripts/bench_transformers.py measures HF transformers.
// JSON keys are an API, documented in docs/cli.md.
#include <cstdio>

#include "app/cli/cli.h"
#include "core/bench/forward_bench.h"

namespace duo::cli {
namespace {

struct BenchForwardArgs {
  perf::ForwardBenchConfig c;
  bool json = false;
};

Registrar reg_bench_forward("bench-forward", [](CLI::App& app) {
  auto a = std::make_shared<BenchForwardArgs>();
  CLI::App& bench = benchVerb(app);
  auto* cmd = bench.add_subcommand("forward", "Prefill and KV-cached decode tokens/s of our forward pass (CPU, f32)");
  cmd->add_option("--model,-m", a->c.model, "Model folder/file or alias (tiny, smollm2)")->capture_default_str();
  cmd->add_option("--seqlen", a->c.seqlen, "Prefill length per sequence")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--batch", a->c.batch, "Sequences")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--decode-tokens", a->c.decodeTokens, "Timed decode steps per repeat")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--repeats", a->c.repeats, "Timed runs of each phase (median and best reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--threads", a->c.threads, "CPU threads (default: OpenMP's)")->check(CLI::Range(1, 1024));
  cmd->add_flag("--our-kernels", a->c.ourKernels, "Decode projections and lm_head through our dense kernel");
  cmd->add_flag("--json", a->json, "Print JSON (keys documented in docs/cli.md)");
  cmd->callback([a] {
    const perf::ForwardBenchResult r = perf::runForwardBench(a->c, progressBar(a->json));
    finishProgress();
    nlohmann::json j = {{"tool", "duoscope"},
                        {"model", r.model},
                        {"dtype", "float32"},
                        {"device", "cpu"},
                        {"threads", r.threads},
                        {"batch", a->c.batch},
                        {"seqlen", a->c.seqlen},
                        {"decode_tokens", a->c.decodeTokens},
                        {"decode_kernels", a->c.ourKernels ? "duoscope dense" : "torch linear"},
                        {"input_ids", r.inputIds},
                        {"repeats", a->c.repeats},
                        {"prefill_s", r.prefillSeconds},
                        {"decode_s", r.decodeSeconds},
                        {"prefill_tokens_per_s", r.prefillTokensPerSecond},
                        {"decode_tokens_per_s", r.decodeTokensPerSecond},
                        {"prefill_best_tokens_per_s", r.prefillBestTokensPerSecond},
                        {"decode_best_tokens_per_s", r.decodeBestTokensPerSecond},
                        {"decode_ms_per_step", r.decodeMsPerStep},
                        {"loadavg_1m_before_after", {r.loadBefore, r.loadAfter}}};
    if (a->json) {
      printJson(j);
      return;
    }
    std::printf("%s, %d threads, [%d, %d] (%s ids)\n", r.model.c_str(), r.threads, a->c.batch, a->c.seqlen,
                r.inputIds.c_str());
    std::printf("prefill: %.1f tokens/s (best %.1f)\n", r.prefillTokensPerSecond, r.prefillBestTokensPerSecond);
    std::printf("decode:  %.1f tokens/s (best %.1f), %.1f ms/step\n", r.decodeTokensPerSecond,
                r.decodeBestTokensPerSecond, r.decodeMsPerStep);
  });
});

}  // namespace
}  // namespace duo::cli
