// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/prune_job.h"

#include <chrono>
#include <filesystem>

#include "core/common/atomic_file.h"
#include "core/common/clock.h"
#include "core/common/device.h"
#include "core/common/paths.h"
#include "core/common/error.h"
#include "core/common/sha256.h"
#include "core/common/version.h"
#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/windows.h"
#include "core/dist/collective.h"
#include "core/eval/accuracy.h"
#include "core/eval/dist_eval.h"
#include "core/model/layerwise.h"
#include "core/eval/perplexity.h"
#include "core/job/decode_estimate.h"
#include "core/model/io/checkpoint_writer.h"
#include "core/model/io/model_info.h"
#include "core/model/io/tensor_names.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"
#include "core/prune/calibrate.h"
#include "core/prune/int8_grid.h"
#include "kernels/cuda/cuda_matvec.h"

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

bool anyActivationSparsity(const SparsityConfig& sc) {
  for (int l = 0; l < sc.numLayers(); ++l)
    for (int s = 0; s < kNumSites; ++s)
      if (sc.siteAct(l, static_cast<Site>(s)) > 0.0) return true;
  return false;
}

// A job's model is the one its request names.
void checkModelRef(const PruneRequest& req, const ModelRef& model) {
  DUO_CHECK(model.name() == req.model, "prune: the request names model '", req.model, "' but was handed '",
            model.name(), "'");
}

int storageBytes(const ModelInfo& info) {
  return info.dtype == "BF16" || info.dtype == "F16" ? 2 : 4;
}

// Fills the calibration and evaluation defaults of the model at `modelPath`: the corpora ("auto":
// its training.json's or the mix, core/data/default_corpora.h), the window sizes and the eval
// window length.
void fillDefaults(PruneRequest& req, const std::string& modelPath, int64_t params, bool cuda) {
  req.calibSource = resolveCalibSource(req.calibSource, modelPath);
  req.evalSource = resolveEvalSource(req.evalSource, modelPath);
  int defN = 0, defL = 0;
  defaultCalibration(params, cuda, &defN, &defL);
  if (req.nsamples <= 0) req.nsamples = defN;
  if (req.seqlen <= 0) req.seqlen = defL;
  if (req.evalSeqlen <= 0) req.evalSeqlen = req.seqlen;
}

MemoryPlanInput planInput(const PruneRequest& req, const ModelInfo& info, const SparsityConfig& sc,
                          int64_t evalWindows) {
  MemoryPlanInput in;
  in.job = "prune";
  in.model = info.path;
  in.config = info.config;
  in.sourceBytes = storageBytes(info);
  in.method = req.method;
  in.actSparsity = anyActivationSparsity(sc);
  in.nsamples = req.nsamples;
  in.seqlen = req.seqlen;
  in.streamBytes = req.streamDtype == "bf16" ? 2 : 4;
  in.evalWindows = req.eval ? evalWindows : 0;
  in.evalSeqlen = req.evalSeqlen;
  return in;
}

// Windows the evaluation will use without tokenizing the corpus: its size in bytes over ~3 bytes
// per token (an upper bound for BPE tokenizers on English), capped by maxWindows.
int64_t estimateEvalWindows(const PruneRequest& req) {
  if (!req.eval) return 0;
  int64_t bytes = 0;
  try {
    bytes = static_cast<int64_t>(loadCorpus(req.evalSource).text.size());
  } catch (const Error&) {
    return req.maxWindows;  // the run itself reports a missing corpus
  }
  const int64_t w = bytes / 3 / std::max(2, req.evalSeqlen);
  return req.maxWindows > 0 ? std::min<int64_t>(w, req.maxWindows) : w;
}

// What --out-dtype asks of the checkpoint: the stored dtype of its tensors, and whether the
// projections are int8 instead (the other tensors then keep the source's dtype).
struct OutDtype {
  torch::ScalarType dtype;
  bool int8 = false;
};

OutDtype outDtypeFor(const std::string& name, torch::ScalarType source) {
  if (name.empty() || name == "source") return {source, false};
  if (name == "int8") return {source, true};
  try {
    return {parseDtype(name, "--out-dtype"), false};
  } catch (const Error&) {
    fail("--out-dtype '", name, "' is not one of source, f32, f16, bf16, int8");
  }
}

// The plan with the site inputs kept, or, when --site-inputs is recompute or (auto) keeping them
// does not fit (host memory; on CUDA also the device's free memory), with them recomputed.
MemoryPlan choosePlan(const PruneRequest& req, const ModelInfo& info, const SparsityConfig& sc, int64_t evalWindows,
                      int64_t freeDevice, bool* keepSiteInputs = nullptr) {
  DUO_CHECK(req.siteInputs == "auto" || req.siteInputs == "keep" || req.siteInputs == "recompute",
            "--site-inputs '", req.siteInputs, "' is not auto, keep or recompute");
  MemoryPlanInput in = planInput(req, info, sc, evalWindows);
  in.keepSiteInputs = req.siteInputs != "recompute";
  MemoryPlan plan = planMemory(in);
  if (req.siteInputs == "auto" &&
      (!plan.fits() || (freeDevice >= 0 && chooseStreamPlacement(plan, "auto", freeDevice) == "host"))) {
    in.keepSiteInputs = false;
    plan = planMemory(in);
  }
  if (keepSiteInputs) *keepSiteInputs = in.keepSiteInputs;
  return plan;
}

// Free memory of the CUDA device (-1 when not computing on one or unknown).
int64_t freeDeviceBytes(const torch::Device& device) {
  std::size_t f = 0, t = 0;
  return device.is_cuda() && kernels::cuda::memoryInfo(&f, &t) ? static_cast<int64_t>(f) : -1;
}

}  // namespace

MemoryPlan planPrune(const PruneRequest& req) { return planPrune(req, ModelRef::resolve(req.model)); }

MemoryPlan planPrune(const PruneRequest& reqIn, const ModelRef& model) {
  checkModelRef(reqIn, model);
  PruneRequest req = reqIn;
  const ModelInfo& info = model.info();
  const SparsityConfig sc = req.sparsity.resolve(static_cast<int>(info.config.numLayers));
  const torch::Device device = chooseDevice(req.device);
  fillDefaults(req, model.path(), info.config.parameterCount(), device.is_cuda());
  return choosePlan(req, info, sc, estimateEvalWindows(req), freeDeviceBytes(device));
}

PruneResult runPrune(const PruneRequest& req, const ProgressFn& progress,
                     const std::function<void(const ProjRecord&)>& onRecord) {
  return runPrune(req, ModelRef::resolve(req.model), progress, onRecord);
}

PruneResult runPrune(const PruneRequest& reqIn, const ModelRef& model, const ProgressFn& progress,
                     const std::function<void(const ProjRecord&)>& onRecord) {
  const auto t0 = std::chrono::steady_clock::now();
  checkModelRef(reqIn, model);
  PruneResult res;
  res.request = reqIn;
  PruneRequest& req = res.request;
  const torch::Device device = rankDevice(chooseDevice(req.device), req.dist);
  res.device = device.str();
  DUO_CHECK(req.computeDtype == "f32" || req.computeDtype == "bf16" || req.computeDtype == "auto",
            "--compute-dtype '", req.computeDtype, "' is not f32, bf16 or auto");
  req.computeDtype = resolveComputeDtype(req.computeDtype, device.is_cuda());  // the JSON names what ran
  DUO_CHECK(req.streamDtype == "f32" || req.streamDtype == "bf16", "--stream-dtype '", req.streamDtype,
            "' is not f32 or bf16");
  OpenedModel m = openModel(model);  // the weights' headers and the tokenizer only
  WeightSource& source = *m.source;
  const ModelConfig& cfg = source.config();
  const OutDtype out = outDtypeFor(req.outDtype, source.dtype());
  const torch::ScalarType outDtype = out.dtype;
  const CheckpointFormat outFormat = parseCheckpointFormat(req.outFormat, "--out-format");
  DUO_CHECK(!out.int8 || outFormat == CheckpointFormat::Dense, "--out-dtype int8 cannot be combined with --out-format ",
            req.outFormat, ": int8 projections are stored dense (compressed-tensors int-quantized; pruned weights are "
            "stored as q = 0)");
  DUO_CHECK(req.int8Rounding == "solve" || req.int8Rounding == "nearest" || req.int8Rounding == "after",
            "--int8-rounding '", req.int8Rounding, "' is not solve, nearest or after");
  // The task file is read before calibration so that a bad file fails in seconds, not after it.
  const McTask task = req.eval && !req.taskFile.empty() ? loadMcTask(req.taskFile, req.taskFormat) : McTask{};

  res.sparsity = req.sparsity.resolve(static_cast<int>(cfg.numLayers));
  req.sparsity = SparsityPlan::table(res.sparsity);
  fillDefaults(req, model.path(), cfg.parameterCount(), device.is_cuda());

  // The memory plan, before anything heavy is read or allocated.
  const int64_t freeDevice = freeDeviceBytes(device);
  bool keepSites = true;
  res.memoryPlan = choosePlan(req, m.info, res.sparsity, estimateEvalWindows(req), freeDevice, &keepSites);
  if (req.memoryCheck) checkMemoryPlan(res.memoryPlan);

  // The ranks meet here: every input was checked the same way on each, before the long part.
  const std::unique_ptr<Collective> dist = openCollective(req.dist, device);
  const bool lead = dist->rank() == 0;  // writes the checkpoint
  res.worldSize = dist->size();
  if (dist->size() > 1) res.distBackend = dist->backend();

  // Calibration and evaluation data.
  const CorpusText calib = loadCorpus(req.calibSource);
  const auto calibTokens = m.tokenizer->encode(calib.text, false);
  const torch::Tensor windows = sampleWindows(calibTokens, req.nsamples, req.seqlen, req.seed);  // [n, seqlen] i64
  torch::Tensor evalWin;  // [w, evalSeqlen] i64
  if (req.eval) {
    const CorpusText evalText = loadCorpus(req.evalSource);
    evalWin = consecutiveWindows(m.tokenizer->encode(evalText.text, evalText.prependBos && m.tokenizer->addsBos()),
                                 req.evalSeqlen, req.maxWindows);
  }


  CalibrateOptions co;
  co.method = req.method;
  co.sparsity = res.sparsity;
  co.obs.score = req.score;
  co.obs.alpha = req.alpha;
  co.obs.damping = req.damp;
  co.obs.blockSize = req.blockSize;
  co.device = device;
  co.streamDtype = req.streamDtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  co.computeDtype = req.computeDtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  co.keepSiteInputs = keepSites;
  co.dist = dist.get();
  using Int8Values = CalibrateOptions::Int8Values;
  co.int8Values = !out.int8                       ? Int8Values::Off
                  : req.int8Rounding == "solve"   ? Int8Values::Solve
                  : req.int8Rounding == "nearest" ? Int8Values::Nearest
                                                  : Int8Values::Off;  // after: rounded as each layer finishes
  res.siteInputs = co.keepSiteInputs ? "keep" : "recompute";
  {
    const std::string where = chooseStreamPlacement(res.memoryPlan, req.streamDevice, freeDevice);
    if (device.is_cuda() && where == "host") co.streamDevice = torch::Device(torch::kCPU);
    res.streamDevice = co.streamDevice.value_or(device).str();
  }

  // The checkpoint, written as layers finish (embedding first, head last).
  std::unique_ptr<CheckpointWriter> writer;
  if (!req.outDir.empty() && lead) {
    CheckpointWriterOptions wo;
    wo.dtype = outDtype;
    wo.format = outFormat;
    wo.int8 = out.int8;
    if (req.maxShardBytes > 0) wo.maxShardBytes = req.maxShardBytes;
    writer = std::make_unique<CheckpointWriter>(req.outDir, cfg, wo);
    writer->put({TensorKind::Embed, -1, Proj::Q}, source.embed());
  }

  // Evaluation streams, dense and pruned, pushed through each layer as it finishes.
  std::unique_ptr<LayerwiseBatches> evalDense, evalPruned;
  PerplexityWindows pplD, pplP;
  std::unique_ptr<AccuracyWalk> accWalk;
  const McTask myTask = shareTask(task, *dist);  // this rank's items
  double evalSeconds = 0;
  const bool methodHasActs = req.method != Method::Dense;
  if (req.eval) {
    const auto te = std::chrono::steady_clock::now();
    evalDense = std::make_unique<LayerwiseBatches>(cfg, device);
    evalPruned = std::make_unique<LayerwiseBatches>(cfg, device);
    const torch::Tensor myWin = shareWindows(evalWin, 4, *dist);
    pplD = addPerplexityWindows(*evalDense, myWin, 4);
    pplP = addPerplexityWindows(*evalPruned, myWin, 4);
    if (!myTask.items.empty()) {
      accWalk = std::make_unique<AccuracyWalk>(*m.tokenizer, myTask, cfg.maxPositions, 16);
      accWalk->addTo(*evalDense);
      accWalk->addTo(*evalPruned);
    }
    const torch::Tensor embed = source.embed();
    evalDense->embed(embed);
    evalPruned->embed(embed);
    evalSeconds += secondsSince(te);
  }

  const int L = static_cast<int>(cfg.numLayers);
  // int8 values that the calibration did not compute (--int8-rounding after, or nothing calibrated):
  // each finished layer's projections rounded to their grid for the checkpoint and the evaluation.
  const bool roundFinished = out.int8 && (req.int8Rounding == "after" || req.method == Method::Dense);
  const LayerFn onLayer = [&](const LayerDone& finished) {
    LayerWeights rounded;
    if (roundFinished) {
      rounded = finished.pruned;
      for (auto& w : rounded.proj) w = roundToInt8Grid(w);
    }
    const LayerDone done{finished.index, finished.dense, roundFinished ? rounded : finished.pruned, finished.thresholds};
    if (writer) writer->putLayer(done.index, done.pruned);
    if (evalDense) {
      const auto te = std::chrono::steady_clock::now();
      reportProgress(progress, {"eval", "layer " + std::to_string(done.index) + " evaluation windows", done.index, L});
      evalDense->layer(done.index, done.dense, {});
      evalPruned->layer(done.index, done.pruned,
                        methodHasActs ? makeActivationHook(res.sparsity, done.thresholds) : InputHook{});
      evalSeconds += secondsSince(te);
    }
  };
  CalibrationResult cal;
  if (req.method == Method::Dense) {  // nothing to calibrate: the walk alone
    torch::NoGradGuard noGrad;
    for (int l = 0; l < L; ++l) {
      reportProgress(progress, {"calibrate", "layer " + std::to_string(l), int64_t(l) * kNumProj, int64_t(L) * kNumProj});
      const LayerWeights lw = layerToDevice(source.layer(l), device);
      onLayer(LayerDone{l, lw, lw, cal.thresholds});
    }
  } else {
    cal = calibrate(source, windows, co, progress, [&](const ProjRecord& r) { if (onRecord) onRecord(r); }, onLayer);
  }
  res.records = cal.records;
  res.secondsForward = cal.secondsForward;
  res.secondsStats = cal.secondsStats;
  res.secondsSolve = cal.secondsSolve;
  if (cal.solvePhases) {
    const ObsProfile& p = *cal.solvePhases;
    res.solvePhases = {{"cholesky", p.cholesky}, {"inverse", p.inverse}, {"residual", p.residual},
                       {"masks", p.masks},       {"sweep", p.sweep},     {"update", p.update}};
  }

  // The head: the checkpoint's last tensors, and the evaluation's logits.
  if (writer) {
    writer->put({TensorKind::FinalNorm, -1, Proj::Q}, source.finalNorm());
    if (!cfg.tieWordEmbeddings) writer->put({TensorKind::LmHead, -1, Proj::Q}, source.lmHead());
  }
  if (req.eval) {
    const auto te = std::chrono::steady_clock::now();
    reportProgress(progress, {"eval", "perplexity", L, L});
    const torch::Tensor fn = source.finalNorm(), head = source.lmHead();
    evalDense->setHead(fn, head);
    evalPruned->setHead(fn, head);
    const PerplexityResult p = reducePerplexity(perplexityOf(*evalPruned, pplP), *dist);
    const PerplexityResult d = reducePerplexity(perplexityOf(*evalDense, pplD), *dist);
    res.eval.done = true;
    res.eval.perplexity = p.perplexity;
    res.eval.densePerplexity = d.perplexity;
    res.eval.tokens = p.tokens;
    res.eval.windows = p.windows;
    res.eval.seqlen = p.seqlen;
    if (!task.items.empty()) {  // multiple-choice accuracy, pruned (rule on) and dense
      AccuracyResult ap, ad;
      if (accWalk) {
        ap = accWalk->score(*evalPruned);
        ad = accWalk->score(*evalDense);
      }
      ap = reduceAccuracy(ap, *dist);
      ad = reduceAccuracy(ad, *dist);
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
    evalDense.reset();
    evalPruned.reset();
    res.secondsEval = evalSeconds + secondsSince(te);
  }

  // Achieved sparsity over all prunable weights (each record's zero fraction weighted by the
  // projection's size); mean achieved activation sparsity of the records.
  double zeros = 0, total = 0, act = 0;
  for (const auto& r : res.records) {
    const auto shape = expectedShape(cfg, {TensorKind::Proj, r.layer, r.proj});
    const double n = static_cast<double>(shape[0] * shape[1]);
    zeros += r.weightSparsity * n;
    total += n;
    act += r.actSparsity;
  }
  res.weightSparsity = total > 0 ? zeros / total : 0;
  res.actSparsity = res.records.empty() ? 0 : act / static_cast<double>(res.records.size());
  res.predictedSpeedup = predictDecodeFor(cfg, res.sparsity).speedup;

  const ModelInfo& info = m.info;
  res.provenance = {{"model", {{"path", info.path}, {"name", info.name}, {"format", info.format},
                               {"architecture", cfg.architecture}, {"layers", cfg.numLayers},
                               {"parameters", info.parameters}, {"dtype", info.dtype},
                               {"sha256", model.contentHash()}}},
                    {"data", {{"calib", req.calibSource}, {"nsamples", req.nsamples}, {"seqlen", req.seqlen},
                              {"seed", req.seed}, {"tokenizer", m.tokenizer->kind()}}},
                    {"duoscope_version", kVersion},
                    {"libtorch_version", kTorchVersion},
                    {"device", res.device}};
  if (dist->size() > 1) res.provenance["dist"] = {{"world_size", dist->size()}, {"backend", dist->backend()}};
  res.peakRssBytes = peakRssBytes();
  res.secondsTotal = secondsSince(t0);
  // Every rank has finished its share before rank 0 makes the checkpoint visible.
  dist->barrier();

  if (writer) {
    reportProgress(progress, {"save", req.outDir, 0, 1});
    nlohmann::json extra = {
        {"duoscope_activation_sparsity",
         {{"rule", actRuleName(res.sparsity.actRule)},
          {"sparsity", res.sparsity.toJson()},
          {"thresholds", cal.thresholds.toJson()}}}};
    extra.update(checkpointSparsityConfig(outFormat, res.weightSparsity, res.sparsity.nm.str()));
    // A GGUF source has no tokenizer.json to copy: write ours (it encodes like PyPI `tokenizers`
    // would) so the checkpoint is a complete HF folder. SPM tokenizers from GGUF cannot be written.
    std::string tokenizerSrc = m.tokenizerJsonPath;
    const std::filesystem::path tokDir = writer->partialDir() + ".tokenizer";
    if (tokenizerSrc.empty() && m.tokenizer->kind() == "bpe-bytelevel") {
      std::filesystem::create_directories(tokDir);
      tokenizerSrc = (tokDir / "tokenizer.json").string();
      m.tokenizer->saveTokenizerJson(tokenizerSrc);
    }
    res.outDtype = out.int8 ? "I8" : dtypeName(outDtype);
    res.outFormat = checkpointFormatName(outFormat);
    res.outShards = writer->shardFiles();
    res.outBytes = writer->totalBytes();
    try {
      // Into the folder before it is renamed into place: a visible checkpoint always has its run.
      writeFileAtomic(writer->partialDir() + "/duoscope.json", res.toJson().dump(2) + "\n");
      // A model trained by DuoScope keeps its training record: it names the model's default corpora
      // (core/data/default_corpora.h), so the pruned model is evaluated on the same text by default.
      const std::string training = model.path() + "/training.json";
      if (fs::is_regular_file(training)) writeFileAtomic(writer->partialDir() + "/training.json", readFile(training));
      writer->commit(extra, tokenizerSrc, progress);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(tokDir, ec);
      throw;
    }
    std::error_code ec;
    std::filesystem::remove_all(tokDir, ec);
  }
  return res;
}

nlohmann::json PruneResult::toJson() const {
  nlohmann::json recs = nlohmann::json::array();
  for (const auto& r : records)
    recs.push_back({{"layer", r.layer}, {"proj", projName(r.proj)}, {"weight_sparsity", r.weightSparsity},
                    {"act_sparsity", r.actSparsity}, {"rel_error", r.relError},
                    {"rel_error_mask_only", r.relErrorMaskOnly}, {"seconds", r.seconds}});
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& [name, seconds] : solvePhases) phases[name] = seconds;
  nlohmann::json j = {
      {"schema", "duoscope.run/1"},
      {"method", methodName(request.method)},
      {"model", request.model},
      {"options",
       {{"act_rule", actRuleName(sparsity.actRule)}, {"score", scoreName(request.score)}, {"alpha", request.alpha},
        {"damp", request.damp}, {"block_size", request.blockSize}, {"nm", sparsity.nm.str()},
        {"nsamples", request.nsamples}, {"seqlen", request.seqlen}, {"seed", request.seed},
        {"calib", request.calibSource}, {"compute_dtype", request.computeDtype}}},
      {"sparsity", sparsity.toJson()},
      {"weight_sparsity", weightSparsity},
      {"act_sparsity", actSparsity},
      {"predicted_speedup", predictedSpeedup},
      {"records", recs},
      {"timings", {{"total", secondsTotal}, {"forward", secondsForward}, {"stats", secondsStats},
                   {"solve", secondsSolve}, {"eval", secondsEval}}},
      {"solve_phases", phases},
      {"peak_rss_bytes", peakRssBytes},
      {"memory_plan", memoryPlan.toJson()},
      {"device", device},
      {"stream_device", streamDevice},
      {"site_inputs", siteInputs},
      {"world_size", worldSize},
      {"provenance", provenance},
      {"out", request.outDir}};
  if (worldSize > 1) j["dist_backend"] = distBackend;
  if (!outDtype.empty()) j["out_dtype"] = outDtype;
  if (outDtype == "I8") j["options"]["int8_rounding"] = request.int8Rounding;
  if (!outFormat.empty()) j["out_format"] = outFormat;
  if (outBytes > 0) j["out_bytes"] = outBytes;
  if (!outShards.empty()) j["out_shards"] = outShards;
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
