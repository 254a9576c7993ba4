// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli sensitivity: every projection's predicted relative output error over a grid of
// (weight, activation) sparsities, from one dense pass over the calibration windows, plus the bytes
// model's decode time of each point (docs/allocation.md).
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/dist.h"
#include "app/cli/options.h"
#include "core/common/error.h"
#include "core/job/sensitivity_job.h"
#include "core/prune/sensitivity.h"

namespace duo::cli {
namespace {

struct SensitivityArgs {
  SensitivityRequest req;
  std::string method = "duogpt";
  std::string out;
  bool json = false;
  DistArgs dist;
};

Registrar reg_sensitivity("sensitivity", [](CLI::App& app) {
  auto a = std::make_shared<SensitivityArgs>();
  auto* cmd = app.add_subcommand(
      "sensitivity", "Predicted relative output error of every projection over a (p_w, p_a) grid, plus decode times");
  addModelOption(cmd, a->req.model);
  addGridOptions(cmd, a->req.options.gridW, a->req.options.gridA);
  cmd->add_option("--method", a->method,
                  "Which pruner's weight error to predict: duogpt | sparsegpt (OBS solver) | wanda | magnitude")
      ->capture_default_str();
  addCalibrationOptions(cmd, a->req.calibSource, a->req.nsamples, a->req.seqlen, a->req.seed);
  cmd->add_option("--loss-windows", a->req.lossWindows,
                  "Calibration windows for the loss weights (0 = the same --nsamples windows); more windows, "
                  "less noise, one forward + backward each")
      ->capture_default_str();
  cmd->add_option("--act-tokens", a->req.options.actTokens, "Tokens the activation term is measured on (0 = all)")
      ->capture_default_str();
  cmd->add_option("--damp", a->req.options.damping, "OBS estimator: Hessian damping lambda")->capture_default_str();
  cmd->add_option("--context", a->req.contextTokens, "Bytes model: KV-cache tokens of the decode step")
      ->capture_default_str();
  addDeviceOption(cmd, a->req.device);
  cmd->add_option("--out", a->out, "Write the table (duoscope.sensitivity/1) to this JSON file");
  cmd->add_flag("--json", a->json, "Print the table as JSON");
  addDistOptions(cmd, a->dist);
  cmd->callback([a] {
    SensitivityRequest req = a->req;
    Method m = Method::DuoGpt;
    DUO_CHECK(methodFromName(a->method, &m), "--method '", a->method, "' is not duogpt, sparsegpt, wanda or magnitude");
    req.options.estimator = estimatorFor(m);
    req.dist = resolveDist(a->dist);  // --nproc: starts the workers here and leaves with their status
    const bool lead = req.dist.rank == 0;
    auto progress = progressBar(!lead);
    const SensitivityTable t = runSensitivity(req, progress);
    finishProgress();
    if (!lead) return;  // rank 0 writes and prints
    if (!a->out.empty()) t.save(a->out);
    if (a->json) {
      printJson(t.toJson());
      return;
    }
    // Human summary: per layer, the error at the grid's middle point summed over projections.
    const size_t iw = t.gridW.size() / 2, ia = t.gridA.size() / 2;
    std::cout << "estimator " << weightEstimatorName(t.estimator) << ", " << t.nsamples << " x " << t.seqlen
              << " tokens, " << t.secondsCompute << " s; error at p_w " << t.gridW[iw] << ", p_a " << t.gridA[ia]
              << " (sum over projections) and OWL outlier ratio per layer:\n";
    for (int l = 0; l < t.numLayers(); ++l) {
      double e = 0;
      for (int p = 0; p < kNumProj; ++p) e += t.at(l, static_cast<Proj>(p)).errorAt(iw, ia);
      std::cout << "  layer " << l << ": " << e << "  outliers " << t.outlierRatio[static_cast<size_t>(l)] << "\n";
    }
    if (!a->out.empty()) std::cout << "wrote " << a->out << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
