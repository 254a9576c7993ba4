// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/eval_job.h"

#include <chrono>

#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/mc_task.h"
#include "core/data/windows.h"
#include "core/dist/collective.h"
#include "core/engine/timing_profile.h"
#include "core/eval/accuracy.h"
#include "core/eval/checkpoint_rule.h"
#include "core/eval/dist_eval.h"
#include "core/eval/perplexity.h"
#include "core/job/decode_estimate.h"
#include "core/model/layerwise.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"

namespace duo {

namespace {

MemoryPlanInput evalPlanInput(const EvalRequest& req, const ModelInfo& info, int64_t windows) {
  MemoryPlanInput in;
  in.job = "eval";
  in.model = info.path;
  in.config = info.config;
  in.sourceBytes = info.dtype == "BF16" || info.dtype == "F16" ? 2 : 4;
  in.evalWindows = windows;
  in.evalSeqlen = req.seqlen;
  in.evalBoth = false;
  in.evalBatch = req.batch;
  return in;
}

void checkModelRef(const EvalRequest& req, const ModelRef& model) {
  DUO_CHECK(model.name() == req.model, "eval: the request names model '", req.model, "' but was handed '",
            model.name(), "'");
}

}  // namespace

MemoryPlan planEval(const EvalRequest& req) { return planEval(req, ModelRef::resolve(req.model)); }

MemoryPlan planEval(const EvalRequest& req, const ModelRef& model) {
  checkModelRef(req, model);
  int64_t windows = req.maxWindows;
  if (windows <= 0) windows = static_cast<int64_t>(loadCorpus(resolveEvalSource(req.corpus, model.path())).text.size()) / 3 / std::max(2, req.seqlen);
  return planMemory(evalPlanInput(req, model.info(), windows));
}

EvalOutcome runEval(const EvalRequest& req, const ProgressFn& progress) {
  return runEval(req, ModelRef::resolve(req.model), progress);
}

EvalOutcome runEval(const EvalRequest& req, const ModelRef& model, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  checkModelRef(req, model);
  const perf::TimingProfile timing = req.timing.empty() ? perf::TimingProfile{} : perf::loadTimingProfile(req.timing);
  const torch::Device device = rankDevice(chooseDevice(req.device), req.dist);
  OpenedModel m = openModel(model);
  const ModelConfig& cfg = m.source->config();
  const CorpusText corpus = loadCorpus(resolveEvalSource(req.corpus, model.path()));
  const auto windows = consecutiveWindows(m.tokenizer->encode(corpus.text, corpus.prependBos && m.tokenizer->addsBos()),
                                          req.seqlen, req.maxWindows);
  // A pruned DuoScope checkpoint carries its activation rule: evaluate with it on.
  const CheckpointActRule rule = readCheckpointActRule(m.info.path, static_cast<int>(cfg.numLayers));
  const InputHook hook = rule.present ? makeActivationHook(rule.sparsity, rule.thresholds) : InputHook{};
  const McTask task = req.task.empty() ? McTask{} : loadMcTask(req.task, req.taskFormat);  // read first: fail fast

  EvalOutcome out;
  out.modelPath = m.info.path;
  out.pruned = rule.present;
  out.memoryPlan = planMemory(evalPlanInput(req, m.info, windows.size(0)));
  if (req.memoryCheck) checkMemoryPlan(out.memoryPlan);
  const std::unique_ptr<Collective> dist = openCollective(req.dist, device);
  const McTask myTask = shareTask(task, *dist);

  LayerwiseBatches batches(cfg, device);
  const PerplexityWindows ppl = addPerplexityWindows(batches, shareWindows(windows, req.batch, *dist), req.batch);
  std::unique_ptr<AccuracyWalk> acc;
  if (!myTask.items.empty()) {
    acc = std::make_unique<AccuracyWalk>(*m.tokenizer, myTask, cfg.maxPositions, req.taskBatch);
    acc->addTo(batches);
  }
  // Each projection's zero fraction, read as the walk passes, for the bytes model's prediction.
  SparsityConfig measured = SparsityConfig::uniform(static_cast<int>(cfg.numLayers), 0.0, 0.0);
  {
    torch::NoGradGuard noGrad;
    const int L = static_cast<int>(cfg.numLayers);
    reportProgress(progress, {"eval", "embedding", 0, L});
    batches.embed(m.source->embed());
    for (int l = 0; l < L; ++l) {
      reportProgress(progress, {"eval", "layer " + std::to_string(l), l, L});
      const LayerWeights lw = layerToDevice(m.source->layer(l), device);
      batches.layer(l, lw, hook);
      for (int p = 0; p < kNumProj; ++p) {
        const torch::Tensor& w = lw.w(static_cast<Proj>(p));  // [n_out, k_in] f32
        measured.setWeight(l, static_cast<Proj>(p), w.eq(0).sum().item<double>() / static_cast<double>(w.numel()));
      }
      if (rule.present)
        for (int s = 0; s < kNumSites; ++s)
          measured.setSiteAct(l, static_cast<Site>(s), rule.sparsity.siteAct(l, static_cast<Site>(s)));
    }
    reportProgress(progress, {"eval", "head", L, L});
    batches.setHead(m.source->finalNorm(), m.source->lmHead());
  }
  PerplexityResult r = reducePerplexity(perplexityOf(batches, ppl), *dist);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json j = {{"model", m.info.path}, {"corpus", corpus.name},  {"perplexity", r.perplexity},
                      {"tokens", r.tokens},   {"windows", r.windows},   {"seqlen", r.seqlen},
                      {"seconds", r.seconds}, {"device", device.str()}, {"act_rule", rule.rule},
                      {"memory_plan", out.memoryPlan.toJson()}};
  if (!task.items.empty()) {
    AccuracyResult a = acc ? acc->score(batches) : AccuracyResult{};
    a.task = task.name;
    j["accuracy"] = reduceAccuracy(a, *dist).toJson();
  }
  j["world_size"] = dist->size();
  if (dist->size() > 1) j["dist_backend"] = dist->backend();
  if (rule.present) j["predicted_speedup"] = predictDecodeFor(cfg, measured).speedup;
  if (rule.present && !timing.empty()) {
    j["calibrated_speedup"] = predictDecodeFor(cfg, measured, &timing).speedup;
    j["timing"] = req.timing;
  }
  out.json = std::move(j);
  return out;
}

}  // namespace duo
