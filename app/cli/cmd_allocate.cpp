// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli allocate: per-layer, per-projection (p_w, p_a) that minimise the summed predicted
// error at a target decode speedup (or weight sparsity), written as a sparsity config that
// `prune --config` and the window accept (docs/allocation.md).
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/options.h"
#include "core/common/error.h"
#include "core/engine/timing_profile.h"
#include "core/job/allocate.h"
#include "core/job/decode_estimate.h"
#include "core/job/sensitivity_job.h"

namespace duo::cli {
namespace {

struct AllocateArgs {
  SensitivityRequest req;
  std::string sensitivity;
  std::string out;
  std::string method = "duogpt";
  std::string actRule = "topk";
  double targetSpeedup = 0;
  double targetSparsity = -1;
  bool owl = false;
  bool json = false;
  double owlLambda = 0.08;
  std::string timing;
  std::string objective = "auto";
  bool lossWeights = false;
};

Registrar reg_allocate("allocate", [](CLI::App& app) {
  auto a = std::make_shared<AllocateArgs>();
  auto* cmd = app.add_subcommand(
      "allocate", "Choose per-layer/per-projection weight and activation sparsity for a target; write the config");
  addModelOption(cmd, a->req.model);
  cmd->add_option("--target-speedup", a->targetSpeedup, "Predicted end-to-end decode speedup to reach (bytes model)");
  cmd->add_option("--target-weight-sparsity", a->targetSparsity,
                  "Or: parameter-weighted weight sparsity to reach (a parameter budget)");
  cmd->add_option("--sensitivity", a->sensitivity, "A table from `sensitivity --out` (else computed now)");
  addGridOptions(cmd, a->req.options.gridW, a->req.options.gridA);  // when the table is computed here
  cmd->add_option("--method", a->method, "Pruner whose error the table predicts (duogpt | sparsegpt | wanda | magnitude)")
      ->capture_default_str();
  addCalibrationOptions(cmd, a->req.calibSource, a->req.nsamples, a->req.seqlen, a->req.seed);
  addDeviceOption(cmd, a->req.device);
  cmd->add_option("--loss-windows", a->req.lossWindows,
                  "Calibration windows for the loss weights when they are computed here (0 = the table's "
                  "--nsamples windows)")
      ->capture_default_str();
  cmd->add_flag("--owl", a->owl, "OWL preset: weight sparsity per layer from its outlier ratio, activations uniform");
  cmd->add_option("--owl-lambda", a->owlLambda, "OWL: spread of the per-layer weight sparsity (+-)")->capture_default_str();
  cmd->add_option("--act-rule", a->actRule, "Activation rule written into the config: topk | threshold")
      ->capture_default_str();
  cmd->add_option("--objective", a->objective,
                  "What to minimise: loss (loss-weighted errors: predicted increase of the token loss), relative "
                  "(summed relative output errors), auto (loss when the table has loss weights)")
      ->capture_default_str();
  cmd->add_flag("--loss-weights", a->lossWeights,
                "Compute the loss weights now (one forward + backward per calibration window) when the table "
                "from --sensitivity has none, or has them from another number of windows than --loss-windows");
  addTimingOption(cmd, a->timing,
                  "decode times and --target-speedup use its measured kernel lines instead of the bytes model");
  cmd->add_option("--out", a->out, "Write the sparsity config (duoscope.sparsity/1) here")->required();
  cmd->add_flag("--json", a->json, "Print the allocation as JSON (duoscope.allocation/1)");
  cmd->callback([a] {
    AllocateOptions o;
    DUO_CHECK((a->targetSpeedup > 0) != (a->targetSparsity >= 0),
              "allocate: give exactly one of --target-speedup and --target-weight-sparsity");
    if (a->targetSpeedup > 0) {
      o.target = AllocTarget::Speedup;
      o.value = a->targetSpeedup;
    } else {
      o.target = AllocTarget::WeightSparsity;
      o.value = a->targetSparsity;
    }
    o.owlLambda = a->owlLambda;
    DUO_CHECK(allocObjectiveFromName(a->objective, &o.objective), "--objective '", a->objective,
              "' is not auto, relative or loss");
    DUO_CHECK(actRuleFromName(a->actRule, &o.actRule), "--act-rule '", a->actRule, "' is not topk or threshold");
    SensitivityTable t;
    if (!a->sensitivity.empty()) {
      t = SensitivityTable::load(a->sensitivity);
    } else {
      SensitivityRequest req = a->req;
      Method m = Method::DuoGpt;
      DUO_CHECK(methodFromName(a->method, &m), "--method '", a->method, "' is not duogpt, sparsegpt, wanda or magnitude");
      req.options.estimator = estimatorFor(m);
      auto progress = progressBar();
      t = runSensitivity(req, progress);
      finishProgress();
    }
    const bool otherWindows = a->req.lossWindows > 0 && a->req.lossWindows != t.lossWindows;
    if (a->lossWeights && (!t.hasLossWeights() || otherWindows)) {
      SensitivityRequest req = a->req;
      req.model = t.model.empty() ? a->req.model : t.model;  // the table names its model
      req.calibSource = t.calib;
      req.nsamples = t.nsamples;
      req.seqlen = t.seqlen;
      req.seed = t.seed;
      auto progress = progressBar(a->json);
      computeLossWeights(t, req, progress);
      finishProgress();
    }
    perf::TimingProfile timing;
    if (!a->timing.empty()) {
      timing = perf::loadTimingProfile(a->timing);
      fillDecodeTimes(t, t.contextTokens, t.bandwidthGbs, &timing);  // the table's times from the profile
      o.timing = &timing;
    } else if (t.denseStepSeconds <= 0) {
      fillDecodeTimes(t);
    }
    const Allocation r = a->owl ? owlAllocation(t, o) : allocate(t, o);
    const Allocation u = uniformAllocation(t, o);
    r.config.save(a->out);
    if (a->json) {
      nlohmann::json j = r.toJson();
      j["target"] = {{"kind", allocTargetName(o.target)}, {"value", o.value}};
      j["uniform_reference"] = {{"weight", u.config.at(0, Proj::Q).weight}, {"act", u.config.at(0, Proj::Q).act},
                                {"predicted_speedup", u.predicted.speedup}, {"predicted_error", u.predicted.error}};
      j["speedup_model"] = a->timing.empty() ? "bytes" : "timing";
      if (!a->timing.empty()) {
        j["timing"] = a->timing;
        j["bytes_predicted_speedup"] = predictDecodeFor(t.config, r.config, t.contextTokens, t.bandwidthGbs).speedup;
      }
      j["sensitivity"] = a->sensitivity.empty() ? nlohmann::json(nullptr) : nlohmann::json(a->sensitivity);
      j["out"] = a->out;
      printJson(j);
      return;
    }
    std::cout << r.method << ": predicted speedup " << r.predicted.speedup << "x, predicted error "
              << r.predicted.error << " (weight sparsity " << r.predicted.weightSparsity << ", mean act sparsity "
              << r.predicted.actSparsity << ")\n"
              << "uniform p_w = p_a = " << u.config.at(0, Proj::Q).weight << " at " << u.predicted.speedup
              << "x predicts error " << u.predicted.error << "\nwrote " << a->out << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
