#include "core/job/prune_job.h"

#include <chrono>
#include <filesystem>

#include "core/common/atomic_file.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/common/sha256.h"
#include "core/common/version.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/eval/accuracy.h"
#include "core/eval/perplexity.h"
#include "core/io/model_hash.h"
#include "core/job/decode_estimate.h"
#include "core/model/io/model_writer.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"
#include "core/prune/calibrate.h"

namespace fs = std::filesystem;

namespace duo {

void defaultCalibration(int64_t params, bool cuda, int* nsamples, int* seqlen) {
  // Small models calibrate on more, shorter windows; the paper's 128 x 2048 only on a GPU.
  if (cuda) {
    *nsamples = 128;
    *seqlen = 2048;
  } else if (params < 20'000'000) {
    *nsamples = 64;
    *seqlen = 128;
  } else {
    // 64 x 256 (16K tokens): at 32 x 256 DuoGPT's residual statistics over-fit on SmolLM2-135M;
    // docs/results.md has the comparison.
    *nsamples = 64;
    *seqlen = 256;
  }
}

namespace {
double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

PruneResult runPrune(const PruneRequest& reqIn, const ProgressFn& progress,
                     const std::function<void(const ProjRecord&)>& onRecord) {
  const auto t0 = std::chrono::steady_clock::now();
  PruneResult res;
  res.request = reqIn;
  PruneRequest& req = res.request;
  const torch::Device device = chooseDevice(req.device);
  res.device = device.str();
  LoadedModel m = loadModel(req.model, device, progress);
  // The task file is read before calibration so that a bad file fails in seconds, not after it.
  const McTask task = req.eval && !req.taskFile.empty() ? loadMcTask(req.taskFile) : McTask{};
  const ModelConfig& cfg = m.model->config();

  // Sparsity: a file, the request's table, or uniform.
  if (!req.sparsityFile.empty()) res.sparsity = SparsityConfig::load(req.sparsityFile, static_cast<int>(cfg.numLayers));
  else if (req.sparsity.numLayers() > 0) res.sparsity = req.sparsity;
  else res.sparsity = SparsityConfig::uniform(static_cast<int>(cfg.numLayers), req.uniformWeight, req.uniformAct);
  if (req.nm.structured()) res.sparsity.nm = req.nm;
  if (req.sparsityFile.empty()) res.sparsity.actRule = req.actRule;
  res.sparsity.validate(req.sparsityFile.empty() ? "sparsity config" : req.sparsityFile, static_cast<int>(cfg.numLayers));
  req.sparsity = res.sparsity;

  int defN = 0, defL = 0;
  defaultCalibration(cfg.parameterCount(), device.is_cuda(), &defN, &defL);
  if (req.nsamples <= 0) req.nsamples = defN;
  if (req.seqlen <= 0) req.seqlen = defL;
  if (req.evalSeqlen <= 0) req.evalSeqlen = req.seqlen;

  // Calibration data.
  const CorpusText calib = loadCorpus(req.calibSource);
  const auto calibTokens = m.tokenizer->encode(calib.text, false);
  const torch::Tensor windows = sampleWindows(calibTokens, req.nsamples, req.seqlen, req.seed);  // [n, seqlen] i64

  CalibrateOptions co;
  co.method = req.method;
  co.sparsity = res.sparsity;
  co.obs.score = req.score;
  co.obs.alpha = req.alpha;
  co.obs.damping = req.damp;
  co.obs.blockSize = req.blockSize;
  co.device = device;
  CalibrationResult cal = calibrate(m.model->weights(), windows, co, progress, [&](const ProjRecord& r) {
    if (onRecord) onRecord(r);
  });
  res.records = cal.records;
  res.secondsForward = cal.secondsForward;
  res.secondsStats = cal.secondsStats;
  res.secondsSolve = cal.secondsSolve;

  // Achieved sparsity over all prunable weights; mean achieved activation sparsity of the records.
  double zeros = 0, total = 0, act = 0;
  for (const auto& lw : cal.weights.layers)
    for (const auto& w : lw.proj) {
      zeros += static_cast<double>((w == 0).sum().item<int64_t>());
      total += static_cast<double>(w.numel());
    }
  for (const auto& r : res.records) act += r.actSparsity;
  res.weightSparsity = total > 0 ? zeros / total : 0;
  res.actSparsity = res.records.empty() ? 0 : act / static_cast<double>(res.records.size());
  res.predictedSpeedup = predictDecodeFor(cfg, res.sparsity).speedup;

  const bool methodHasActs = req.method != Method::Dense;
  const InputHook hook = methodHasActs ? makeActivationHook(res.sparsity, cal.thresholds) : InputHook{};
  LlamaModel pruned(cal.weights, device);

  if (req.eval) {
    const auto te = std::chrono::steady_clock::now();
    const CorpusText evalText = loadCorpus(req.evalSource);
    const auto evalWin = consecutiveWindows(m.tokenizer->encode(evalText.text, false), req.evalSeqlen, req.maxWindows);
    const auto p = evalPerplexity(pruned, evalWin, hook, 4, progress);
    const auto d = evalPerplexity(*m.model, evalWin, {}, 4, progress);
    res.eval.done = true;
    res.eval.perplexity = p.perplexity;
    res.eval.densePerplexity = d.perplexity;
    res.eval.tokens = p.tokens;
    res.eval.windows = p.windows;
    res.eval.seqlen = p.seqlen;
    if (!task.items.empty()) {  // multiple-choice accuracy, pruned (rule on) and dense
      const AccuracyResult ap = evalAccuracy(pruned, *m.tokenizer, task, hook, 16, progress);
      const AccuracyResult ad = evalAccuracy(*m.model, *m.tokenizer, task, {}, 16, progress);
      res.eval.taskName = task.name;
      res.eval.taskItems = ap.items;
      res.eval.accuracy = ap.acc;
      res.eval.accuracyStderr = ap.accStderr;
      res.eval.accuracyNorm = ap.accNorm;
      res.eval.accuracyNormStderr = ap.accNormStderr;
      res.eval.denseAccuracy = ad.acc;
      res.eval.denseAccuracyStderr = ad.accStderr;
      res.eval.denseAccuracyNorm = ad.accNorm;
      res.eval.denseAccuracyNormStderr = ad.accNormStderr;
    }
    res.secondsEval = secondsSince(te);
  }

  const ModelInfo& info = m.info;
  res.provenance = {{"model", {{"path", info.path}, {"name", info.name}, {"format", info.format},
                               {"architecture", cfg.architecture}, {"layers", cfg.numLayers},
                               {"parameters", info.parameters},
                               {"sha256", modelContentHash(info.path)}}},
                    {"data", {{"calib", req.calibSource}, {"nsamples", req.nsamples}, {"seqlen", req.seqlen},
                              {"seed", req.seed}, {"tokenizer", m.tokenizer->kind()}}},
                    {"duoscope_version", kVersion},
                    {"libtorch_version", kTorchVersion},
                    {"device", res.device}};
  res.peakRssBytes = peakRssBytes();
  res.secondsTotal = secondsSince(t0);

  if (!req.outDir.empty()) {
    reportProgress(progress, {"save", req.outDir, 0, 1});
    nlohmann::json extra = {
        {"sparsity_config",
         {{"format", "dense"},
          {"global_sparsity", res.weightSparsity},
          {"sparsity_structure", res.sparsity.nm.str()},
          {"targets", {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
          {"ignore", {"lm_head", "embed_tokens"}}}},
        {"duoscope_activation_sparsity",
         {{"rule", actRuleName(res.sparsity.actRule)},
          {"sparsity", res.sparsity.toJson()},
          {"thresholds", cal.thresholds.toJson()}}}};
    // A GGUF source has no tokenizer.json to copy: write ours (it encodes like PyPI `tokenizers`
    // would) so the checkpoint is a complete HF folder. SPM tokenizers from GGUF cannot be written.
    std::string tokenizerSrc = m.tokenizerJsonPath;
    const std::filesystem::path tokDir = req.outDir + ".tokenizer.tmp";
    if (tokenizerSrc.empty() && m.tokenizer->kind() == "bpe-bytelevel") {
      std::filesystem::create_directories(tokDir);
      tokenizerSrc = (tokDir / "tokenizer.json").string();
      m.tokenizer->saveTokenizerJson(tokenizerSrc);
    }
    try {
      saveHfCheckpoint(cal.weights, req.outDir, extra, tokenizerSrc, progress);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(tokDir, ec);
      throw;
    }
    std::error_code ec;
    std::filesystem::remove_all(tokDir, ec);
    writeFileAtomic(req.outDir + "/duoscope.json", res.toJson().dump(2) + "\n");
  }
  return res;
}

nlohmann::json PruneResult::toJson() const {
  nlohmann::json recs = nlohmann::json::array();
  for (const auto& r : records)
    recs.push_back({{"layer", r.layer}, {"proj", projName(r.proj)}, {"weight_sparsity", r.weightSparsity},
                    {"act_sparsity", r.actSparsity}, {"rel_error", r.relError},
                    {"rel_error_mask_only", r.relErrorMaskOnly}, {"seconds", r.seconds}});
  nlohmann::json j = {
      {"schema", "duoscope.run/1"},
      {"method", methodName(request.method)},
      {"model", request.model},
      {"options",
       {{"act_rule", actRuleName(sparsity.actRule)}, {"score", scoreName(request.score)}, {"alpha", request.alpha},
        {"damp", request.damp}, {"block_size", request.blockSize}, {"nm", sparsity.nm.str()},
        {"nsamples", request.nsamples}, {"seqlen", request.seqlen}, {"seed", request.seed},
        {"calib", request.calibSource}}},
      {"sparsity", sparsity.toJson()},
      {"weight_sparsity", weightSparsity},
      {"act_sparsity", actSparsity},
      {"predicted_speedup", predictedSpeedup},
      {"records", recs},
      {"timings", {{"total", secondsTotal}, {"forward", secondsForward}, {"stats", secondsStats},
                   {"solve", secondsSolve}, {"eval", secondsEval}}},
      {"peak_rss_bytes", peakRssBytes},
      {"device", device},
      {"provenance", provenance},
      {"out", request.outDir}};
  if (eval.done)
    j["eval"] = {{"perplexity", eval.perplexity}, {"dense_perplexity", eval.densePerplexity}, {"tokens", eval.tokens},
                 {"windows", eval.windows}, {"seqlen", eval.seqlen}, {"corpus", request.evalSource}};
  if (eval.done && !eval.taskName.empty()) {
    const auto acc = [&](double a, double aErr, double n, double nErr) {
      return nlohmann::json{{"task", eval.taskName}, {"items", eval.taskItems}, {"acc", a}, {"acc_stderr", aErr},
                            {"acc_norm", n}, {"acc_norm_stderr", nErr}};
    };
    j["eval"]["accuracy"] = acc(eval.accuracy, eval.accuracyStderr, eval.accuracyNorm, eval.accuracyNormStderr);
    j["eval"]["dense_accuracy"] =
        acc(eval.denseAccuracy, eval.denseAccuracyStderr, eval.denseAccuracyNorm, eval.denseAccuracyNormStderr);
  }
  return j;
}

}  // namespace duo
