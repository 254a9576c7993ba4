// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli inspect: per-layer, per-projection error and sparsity of a pruned model against
// its dense original on evaluation data (the window's error heatmap).
#include <cstdio>
#include <iostream>

#include "app/cli/cli.h"
#include "core/data/corpus.h"
#include "core/eval/inspect.h"

namespace duo::cli {
namespace {

Registrar reg_inspect("inspect", [](CLI::App& app) {
  auto r = std::make_shared<InspectRequest>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("inspect", "Per-layer error and sparsity of a pruned model vs the dense one");
  cmd->add_option("--dense", r->dense, "The dense model (path or alias)")->required();
  cmd->add_option("--pruned", r->pruned, "The pruned checkpoint folder (prune --out)")->required();
  cmd->add_option("--corpus", r->corpus, duo::kModelCorpusSourcesHelp)->capture_default_str();
  cmd->add_option("--seqlen", r->seqlen, "Window length")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-windows", r->maxWindows, "At most this many windows (0 = all)")->capture_default_str();
  cmd->add_option("--batch", r->batch, "Windows per forward")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--device", r->device, "auto | cpu | cuda");
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([r, json] {
    auto progress = progressBar();
    const InspectResult res = inspectPruned(*r, progress);
    finishProgress();
    if (*json) {
      printJson(res.toJson());
      return;
    }
    std::printf("%s vs %s on %s (%lld windows of %d, act rule %s), weight sparsity %.4f\n", res.pruned.c_str(),
                res.dense.c_str(), res.corpus.c_str(), static_cast<long long>(res.windows), res.seqlen,
                res.actRule.c_str(), res.weightSparsity);
    std::printf("%5s %-10s %12s %9s %9s\n", "layer", "proj", "rel_error", "w_sparse", "a_sparse");
    for (const auto& p : res.projs)
      std::printf("%5d %-10s %12.4g %9.4f %9.4f\n", p.layer, projName(p.proj), p.relError, p.weightSparsity,
                  p.actSparsity);
    std::printf("%5s %s\n", "layer", "hidden_rel_error");
    for (const auto& l : res.layers) std::printf("%5d %.4g\n", l.layer, l.hiddenRelError);
  });
});

}  // namespace
}  // namespace duo::cli
