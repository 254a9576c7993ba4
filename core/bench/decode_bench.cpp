// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/bench/decode_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <omp.h>

#include "core/bench/bench_common.h"
#include "core/bench/machine_probes.h"
#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/engine/packed_decode.h"
#include "core/model/model_loader.h"

namespace duo::perf {

namespace {

// Prompt ids: a fixed stride through the vocabulary (decode speed does not depend on the text).
torch::Tensor promptIds(int64_t batch, int64_t len, int64_t vocab) {
  auto ids = torch::empty({batch, len}, torch::kLong);  // [B, T] i64
  auto* p = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < batch * len; ++i) p[i] = 1 + (i * 7919) % (vocab - 1);
  return ids;
}

// One repeat: prefill `context` tokens (untimed), then `steps` greedy single-token steps; returns
// seconds per step. `firstLogits` receives the first step's logits [B, vocab] when given.
double timeDecode(const LlamaModel& model, const InputHook& hook, int batch, int context, int steps,
                  torch::Tensor* firstLogits = nullptr) {
  KvCache cache = model.newCache(batch, context + steps + 1);
  auto logits = model.decodeStep(cache, promptIds(batch, context, model.config().vocabSize), hook);  // [B, vocab]
  auto next = logits.argmax(-1, true);  // [B, 1] i64
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    logits = model.decodeStep(cache, next, hook);
    if (s == 0 && firstLogits) *firstLogits = logits.clone();
    next = logits.argmax(-1, true);
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sec / steps;
}

// Teacher-forced perplexity of windows [w, T] i64 decoded one step at a time through `d` (packed
// from `model`: its activation rule and value format), all windows as one batch: exp of the mean
// NLL of tokens 1..T-1. Returns {perplexity, predicted tokens}.
std::pair<double, std::int64_t> decodePerplexity(const LlamaModel& model, const PackedDecoder& d,
                                                 const torch::Tensor& windows) {
  const std::int64_t B = windows.size(0), T = windows.size(1);
  KvCache cache = model.newCache(B, T);
  double nll = 0;
  for (std::int64_t t = 0; t + 1 < T; ++t) {
    const torch::Tensor logits = d.step(cache, windows.slice(1, t, t + 1)).to(torch::kFloat64);  // [B, vocab]
    const torch::Tensor target = windows.slice(1, t + 1, t + 2);                                   // [B, 1] i64
    nll += (torch::logsumexp(logits, -1, true) - logits.gather(-1, target)).sum().item<double>();
  }
  const std::int64_t n = B * (T - 1);
  return {std::exp(nll / static_cast<double>(n)), n};
}

// The bytes model's input for what the packed decoder actually runs: measured weight sparsity and
// the configured activation sparsity of every projection (perf::Projection has Proj's order).
DecodePrediction predictFor(const ModelConfig& mc, const PackedDecoder& d, int contextTokens, double bandwidthGbs,
                            const TimingProfile* timing = nullptr) {
  DecodeInput in;
  in.timing = timing;
  in.shape = shapeOf(mc);
  in.contextTokens = contextTokens;
  in.bandwidthGbs = bandwidthGbs;
  in.weightType = d.values();
  for (int l = 0; l < d.numLayers(); ++l) {
    LayerSparsity layer{};
    for (int p = 0; p < kNumProj; ++p) {
      const PackedProjection& pp = d.projection(l, static_cast<Proj>(p));
      layer[static_cast<size_t>(p)] = {pp.weightSparsity, pp.actSparsity};
    }
    in.layers.push_back(layer);
  }
  return predictDecode(in);
}

// Runs `run` with a step profile attached to `d` and returns its parts per step.
template <class Run>
StepParts profiledParts(const PackedDecoder& d, Run run) {
  StepProfile sp;
  d.setStepProfile(&sp);
  run();
  d.setStepProfile(nullptr);
  StepParts parts;
  if (sp.steps == 0) return parts;
  const double perStep = 1e3 / static_cast<double>(sp.steps);
  for (std::size_t i = 0; i < sp.projSeconds.size(); ++i) parts.projectionsMs[i % kNumProj] += sp.projSeconds[i] * perStep;
  for (double s : sp.siteSeconds) parts.sparsifyMs += s * perStep;
  parts.headMs = sp.headSeconds * perStep;
  parts.totalMs = sp.totalSeconds * perStep;
  parts.otherMs = parts.totalMs - parts.projectionMs() - parts.sparsifyMs - parts.headMs;
  return parts;
}

}  // namespace

DecodeBenchResult runDecodeBench(const DecodeBenchConfig& c, const ProgressFn& progress) {
  DUO_CHECK(c.tokens >= 1 && c.repeats >= 1 && c.context >= 1, "bench decode: tokens, repeats and context must be >= 1");
  DUO_CHECK(c.batch >= 1 && c.batch <= 64, "bench decode: batch must be in [1, 64], got ", c.batch);
  DUO_CHECK(!c.model.empty() || !c.pruned.empty(), "bench decode: give a model, a pruned checkpoint or both");
  DecodeBenchResult r = startRun<DecodeBenchResult>(c);
  c10::InferenceMode inference;
  reportProgress(progress, {"bench decode", "load", 0, 0});

  // The pruned model and its activation rule.
  LoadedModel pruned = loadModel(c.pruned.empty() ? c.model : c.pruned, torch::kCPU);
  const int layers = static_cast<int>(pruned.model->config().numLayers);
  SparsityConfig act;
  ActThresholds thresholds;
  if (!c.pruned.empty()) {
    r.pruned = pruned.info.path;
    if (!readActivationRule(pruned.info.path, layers, &act, &thresholds)) act = SparsityConfig::uniform(layers, 0, 0);
  } else {
    applyMagnitudeMask(*pruned.model, c.wSparsity);
    act = SparsityConfig::uniform(layers, c.wSparsity, c.aSparsity);
    char buf[96];
    std::snprintf(buf, sizeof buf, "magnitude w%.2f + topk a%.2f (in memory)", c.wSparsity, c.aSparsity);
    r.pruned = buf;
  }
  r.actRule = act.meanAct() > 0 ? actRuleName(act.actRule) : "none";
  r.actSparsity = act.meanAct();

  // The dense model: its own file, or the pruned weights run densely.
  LoadedModel denseLoaded;
  const LlamaModel* denseModel = pruned.model.get();
  r.model = pruned.info.path;
  if (!c.model.empty() && !c.pruned.empty()) {
    denseLoaded = loadModel(c.model, torch::kCPU);
    const ModelConfig& dc = denseLoaded.model->config();
    const ModelConfig& pc = pruned.model->config();
    DUO_CHECK(dc.numLayers == pc.numLayers && dc.hiddenSize == pc.hiddenSize && dc.intermediateSize == pc.intermediateSize &&
                  dc.numHeads == pc.numHeads && dc.numKvHeads == pc.numKvHeads && dc.vocabSize == pc.vocabSize,
              "bench decode: the dense model ", denseLoaded.info.path, " (", dc.numLayers, " layers, hidden ",
              dc.hiddenSize, ") is not the pruned checkpoint's architecture ", pruned.info.path, " (", pc.numLayers,
              " layers, hidden ", pc.hiddenSize, "); leave --model out to compare with the checkpoint's own weights");
    denseModel = denseLoaded.model.get();
    r.model = denseLoaded.info.path;
  }
  reportProgress(progress, {"bench decode", "pack", 0, 0});
  DUO_CHECK(c.timing.empty() || c.timing.values == c.values, "bench decode: the timing profile ", c.timing.name(),
            " was measured with ", kernels::valueTypeName(c.timing.values), " values, this run decodes with ",
            kernels::valueTypeName(c.values), " (run `duoscope-cli bench calibrate --values ",
            kernels::valueTypeName(c.values), "` for a matching profile)");
  DUO_CHECK(c.timing.empty() || c.timing.int8Inputs == c.int8Inputs, "bench decode: the timing profile ",
            c.timing.name(), " was measured ", c.timing.int8Inputs ? "with" : "without", " int8 inputs, this run decodes ",
            c.int8Inputs ? "with" : "without", " them (bench calibrate --int8-inputs makes a matching profile)");
  PackedDecoderOptions denseOpt;
  denseOpt.dense = true;
  denseOpt.values = c.values;
  denseOpt.int8Inputs = c.int8Inputs;
  denseOpt.fuse = c.fuse;
  const PackedDecoder denseDecoder(*denseModel, {}, {}, denseOpt);
  PackedDecoderOptions prunedOpt;
  prunedOpt.timing = c.timing;
  prunedOpt.values = c.values;
  prunedOpt.int8Inputs = c.int8Inputs;
  prunedOpt.fuse = c.fuse;
  const PackedDecoder packed(*pruned.model, act, thresholds, prunedOpt);
  r.weightSparsity = packed.weightSparsity();
  r.kernels = packed.kernelSummary();
  r.fusedGroups = packed.fusedGroups();
  auto& denseMut = const_cast<LlamaModel&>(*denseModel);

  // Agreement: the packed first step against the torch decode of the same pruned model + rule (the
  // decoder's rule on both sides: torch's topk breaks exact ties at the cut its own way).
  {
    torch::Tensor viaTorch, viaPacked;
    PackedDecoder::uninstall(*pruned.model);
    timeDecode(*pruned.model, packed.hook(), c.batch, c.context, 1, &viaTorch);
    packed.install(*pruned.model);
    timeDecode(*pruned.model, packed.hook(), c.batch, c.context, 1, &viaPacked);
    r.maxLogitDiff = (viaTorch - viaPacked).abs().max().item<double>();
    r.logitScale = viaTorch.abs().max().item<double>();
  }

  // Warm-up (allocator, thread pool, first touch of the packed buffers), then interleaved repeats.
  const int warm = std::min(4, c.tokens);
  const bool sameModel = denseModel == pruned.model.get();
  auto runDense = [&](int steps) {
    if (sameModel) PackedDecoder::uninstall(denseMut);
    denseDecoder.install(denseMut);
    const double s = timeDecode(*denseModel, {}, c.batch, c.context, steps);
    PackedDecoder::uninstall(denseMut);
    return s;
  };
  auto runPacked = [&](int steps) {
    packed.install(*pruned.model);
    return timeDecode(*pruned.model, packed.hook(), c.batch, c.context, steps);
  };
  auto runTorch = [&](int steps) {
    PackedDecoder::uninstall(denseMut);
    return timeDecode(*denseModel, {}, c.batch, c.context, steps);
  };
  runDense(warm);
  runPacked(warm);
  if (c.torchBaseline) runTorch(warm);
  const int maxPairs = std::max(c.repeats, c.maxRepeats);
  const int perPair = c.torchBaseline ? 3 : 2;
  int total = c.repeats * perPair;  // grows while the spread is not yet known
  int done = 0;
  for (int i = 0; i < maxPairs; ++i) {
    if (i >= c.repeats) {  // extra pairs: only while the ratios still spread wider than the target
      double med = 0, p25 = 0, p75 = 0;
      pairRatioStats(r.denseStepSeconds, r.prunedStepSeconds, &med, &p25, &p75);
      if (med > 0 && (p75 - p25) / med <= SpeedCheck::kTargetSpread) break;
      total = std::max(total, (i + 1) * perPair);
    }
    reportProgress(progress, {"bench decode", "repeat " + std::to_string(i + 1), done, total});
    r.denseStepSeconds.push_back(runDense(c.tokens));
    ++done;
    r.prunedStepSeconds.push_back(runPacked(c.tokens));
    ++done;
    if (c.torchBaseline) {
      r.torchStepSeconds.push_back(runTorch(c.tokens));
      ++done;
    }
  }
  total = done;
  if (!c.qualityCorpus.empty()) {
    DUO_CHECK(c.qualityWindows >= 1 && c.qualitySeqlen >= 2, "bench decode: quality needs >= 1 window of >= 2 tokens");
    reportProgress(progress, {"bench decode", "quality", 0, 0});
    const CorpusText text = loadCorpus(c.qualityCorpus);
    const torch::Tensor windows = consecutiveWindows(
        pruned.tokenizer->encode(text.text, text.prependBos && pruned.tokenizer->addsBos()), c.qualitySeqlen,
        c.qualityWindows);  // [w, T] i64
    DUO_CHECK(windows.size(0) >= 1, "bench decode: ", c.qualityCorpus, " holds fewer than ", c.qualitySeqlen,
              " tokens, no window to evaluate");
    PackedDecoder::uninstall(*pruned.model);
    // On one OpenMP thread: with more, the kernels' per-thread partial sums are added in an order
    // that changes from run to run, and the activation rule turns those last-bit differences into
    // other kept inputs (ties at the cut), so two runs differed by several percent (SmolLM2 W50/A50,
    // 2 windows). The quality pass measures the value format's arithmetic, reproducibly.
    struct OneThread {
      int before = omp_get_max_threads();
      OneThread() { omp_set_num_threads(1); }
      ~OneThread() { omp_set_num_threads(before); }
    } oneThread;
    std::tie(r.qualityPerplexity, r.qualityTokens) = decodePerplexity(*pruned.model, packed, windows);
    if (c.values == kernels::ValueType::F32) {  // (int8 inputs need int8 values)
      r.qualityF32Perplexity = r.qualityPerplexity;
    } else {
      PackedDecoderOptions f32Opt = prunedOpt;
      f32Opt.values = kernels::ValueType::F32;
      f32Opt.int8Inputs = false;
      const PackedDecoder f32(*pruned.model, act, thresholds, f32Opt);
      r.qualityF32Perplexity = decodePerplexity(*pruned.model, f32, windows).first;
    }
  }
  if (c.profile) {
    r.denseParts = profiledParts(denseDecoder, [&] { runDense(c.tokens); });
    r.prunedParts = profiledParts(packed, [&] { runPacked(c.tokens); });
    r.profiled = true;
  }
  PackedDecoder::uninstall(*pruned.model);
  PackedDecoder::uninstall(denseMut);
  reportProgress(progress, {"bench decode", "done", total, total});

  const double b = static_cast<double>(c.batch);
  r.denseTokensPerSecond = b / median(r.denseStepSeconds);
  r.prunedTokensPerSecond = b / median(r.prunedStepSeconds);
  if (c.torchBaseline) r.torchTokensPerSecond = b / median(r.torchStepSeconds);
  r.denseBestTokensPerSecond = b / *std::min_element(r.denseStepSeconds.begin(), r.denseStepSeconds.end());
  r.prunedBestTokensPerSecond = b / *std::min_element(r.prunedStepSeconds.begin(), r.prunedStepSeconds.end());
  r.measuredSpeedup = r.prunedTokensPerSecond / r.denseTokensPerSecond;  // ratio of medians (check: median of ratios)
  r.bestSpeedup = r.prunedBestTokensPerSecond / r.denseBestTokensPerSecond;

  // Bytes model at the mean context length of the timed steps, batch 1.
  r.readBandwidthGbs = cpuReadBandwidthGbs();
  const int ctx = c.context + c.tokens / 2;
  const DecodePrediction pred = predictFor(pruned.model->config(), packed, ctx, r.readBandwidthGbs);
  r.predictedSpeedup = pred.speedup;
  r.predictedDenseTokensPerSecond = pred.tokensPerSecondDense();
  r.predictedPrunedTokensPerSecond = pred.tokensPerSecondSparse();
  r.predictedProjectionSpeedup = pred.projectionSpeedup;
  r.sparsifiableShare = pred.sparsifiableShare;
  if (!c.timing.empty()) {
    const DecodePrediction cal = predictFor(pruned.model->config(), packed, ctx, r.readBandwidthGbs, &c.timing);
    r.calibratedSpeedup = cal.speedup;
    r.calibratedDenseTokensPerSecond = cal.tokensPerSecondDense();
    r.calibratedPrunedTokensPerSecond = cal.tokensPerSecondSparse();
    r.timingThreads = c.timing.threads;
  }
  const ModelConfig& mc = pruned.model->config();
  r.denseStepBytes = static_cast<double>(denseDecoder.projectionBytes()) + static_cast<double>(denseDecoder.headBytes());
  r.lastLevelCacheBytes = static_cast<double>(lastLevelCacheBytes());
  r.cacheResident = r.denseStepBytes <= r.lastLevelCacheBytes;
  r.loadAfter = loadAverage1m();

  SpeedSample sample;
  sample.denseStepSeconds = r.denseStepSeconds;
  sample.prunedStepSeconds = r.prunedStepSeconds;
  sample.tokens = c.tokens;
  sample.threads = r.threads;
  sample.batch = c.batch;
  sample.expectedDenseTokensPerSecond = r.predictedDenseTokensPerSecond * b;  // a step reads the weights once
  sample.denseStepBytes = r.denseStepBytes;
  sample.lastLevelCacheBytes = r.lastLevelCacheBytes;
  sample.loadBefore = r.loadBefore;
  // The dense speed depends on the shape alone (a dense mat-vec reads the same bytes whatever the values).
  char key[200];
  std::snprintf(key, sizeof key, "L%lld h%lld i%lld kv%lld v%lld bytes%.0f threads%d batch%d context%d",
                static_cast<long long>(mc.numLayers), static_cast<long long>(mc.hiddenSize),
                static_cast<long long>(mc.intermediateSize), static_cast<long long>(mc.numKvHeads),
                static_cast<long long>(mc.vocabSize), r.denseStepBytes, r.threads, c.batch, c.context);
  SpeedHistory history(c.useHistory ? SpeedHistory::defaultPath() : std::string());
  r.check = assessSpeed(sample, history.lookup(key));
  history.add(key, r.check.denseTokensPerSecond);
  return r;
}

DecodeBenchResult measureCheckpointDecode(const std::string& prunedDir, const ProgressFn& progress,
                                          const TimingProfile& timing, int threads, kernels::ValueType values,
                                          bool int8Inputs) {
  DecodeBenchConfig c;
  c.values = values;
  c.int8Inputs = int8Inputs;
  c.model.clear();
  c.pruned = prunedDir;
  c.tokens = kMeasureTokens;
  c.repeats = kMeasureMinRepeats;
  c.maxRepeats = kMeasureMaxRepeats;
  c.threads = threads;
  c.torchBaseline = false;
  c.timing = timing;
  return runDecodeBench(c, progress);
}

}  // namespace duo::perf
