// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli demo: the headless main job on the bundled tiny model: describe it, prune it at
// W50% + A50% with SparseGPT and with DuoGPT, and compare perplexities with the dense model.
#include <cstdio>
#include <iostream>

#include "app/cli/cli.h"
#include "core/common/device.h"
#include "core/job/prune_job.h"
#include "core/model/model_ref.h"

namespace duo::cli {
namespace {

Registrar reg_demo("demo", [](CLI::App& app) {
  auto model = std::make_shared<std::string>("tiny");
  auto windows = std::make_shared<int>(16);
  auto* cmd = app.add_subcommand("demo", "Prune the bundled tiny model with SparseGPT and DuoGPT at W50%+A50% and compare");
  cmd->add_option("--model,-m", *model, "Model (default: the bundled tiny model)")->capture_default_str();
  cmd->add_option("--max-windows", *windows, "Evaluation windows")->capture_default_str();
  cmd->callback([=] {
    const ModelRef ref = ModelRef::resolve(*model);
    const ModelInfo& info = ref.info();
    std::cout << "DuoScope demo on " << info.path << "\n  " << info.config.numLayers << " layers, hidden "
              << info.config.hiddenSize << ", " << info.parameters << " parameters; " << deviceInfo().description
              << "\n\n";
    std::printf("%-12s %10s %10s %10s %10s %9s\n", "method", "w-sparsity", "a-sparsity", "ppl", "dense ppl", "seconds");
    for (Method m : {Method::SparseGpt, Method::DuoGpt}) {
      PruneRequest req;
      req.model = *model;
      req.method = m;
      req.sparsity = SparsityPlan::uniform(0.5, 0.5);
      req.eval = true;
      req.maxWindows = *windows;
      const PruneResult r = runPrune(req, ref, progressBar(), {});
      finishProgress();
      std::printf("%-12s %10.3f %10.3f %10.3f %10.3f %9.1f\n", methodName(m), r.weightSparsity, r.actSparsity,
                  r.eval.perplexity, r.eval.densePerplexity, r.secondsTotal);
      std::fflush(stdout);
    }
    std::cout << "\nBoth evaluated with 50% top-k activation sparsity on every projection input (kjv:eval).\n"
              << "Next: duoscope-cli prune --help, or open the window (duoscope).\n";
  });
});

}  // namespace
}  // namespace duo::cli
