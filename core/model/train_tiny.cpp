// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/train_tiny.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/eval/perplexity.h"
#include "core/model/io/model_writer.h"
#include "core/model/llama_model.h"
#include "core/model/tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

// GPT-2 style init: N(0, 0.02), residual outputs (o, down) scaled by 1/sqrt(2 * layers).
LlamaWeights initWeights(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  const double std = 0.02, residualStd = 0.02 / std::sqrt(2.0 * static_cast<double>(c.numLayers));
  auto normal = [](std::vector<int64_t> shape, double s) { return (torch::randn(shape) * s).requires_grad_(true); };
  LlamaWeights w;
  w.config = c;
  w.embed = normal({c.vocabSize, c.hiddenSize}, std);  // [vocab, d]
  for (int64_t l = 0; l < c.numLayers; ++l) {
    LayerWeights lw;
    lw.attnNorm = torch::ones({c.hiddenSize}).requires_grad_(true);
    lw.mlpNorm = torch::ones({c.hiddenSize}).requires_grad_(true);
    lw.w(Proj::Q) = normal({c.qDim(), c.hiddenSize}, std);
    lw.w(Proj::K) = normal({c.kvDim(), c.hiddenSize}, std);
    lw.w(Proj::V) = normal({c.kvDim(), c.hiddenSize}, std);
    lw.w(Proj::O) = normal({c.hiddenSize, c.qDim()}, residualStd);
    lw.w(Proj::Gate) = normal({c.intermediateSize, c.hiddenSize}, std);
    lw.w(Proj::Up) = normal({c.intermediateSize, c.hiddenSize}, std);
    lw.w(Proj::Down) = normal({c.hiddenSize, c.intermediateSize}, residualStd);
    w.layers.push_back(std::move(lw));
  }
  w.finalNorm = torch::ones({c.hiddenSize}).requires_grad_(true);
  w.lmHead = normal({c.vocabSize, c.hiddenSize}, std);
  return w;
}

void collectParams(LlamaWeights& w, std::vector<torch::Tensor>* decay, std::vector<torch::Tensor>* noDecay) {
  decay->push_back(w.embed);
  decay->push_back(w.lmHead);
  noDecay->push_back(w.finalNorm);
  for (auto& l : w.layers) {
    for (auto& p : l.proj) decay->push_back(p);
    noDecay->push_back(l.attnNorm);
    noDecay->push_back(l.mlpNorm);
  }
}

double heldOutPerplexity(const LlamaModel& model, const torch::Tensor& windows) {
  return evalPerplexity(model, windows, {}, 8).perplexity;
}

}  // namespace

nlohmann::json trainTiny(const TrainTinyOptions& o, const ProgressFn& progress) {
  DUO_CHECK(!o.outDir.empty(), "train-tiny: --out is required");
  DUO_CHECK(o.hidden % o.heads == 0 && o.heads % o.kvHeads == 0, "train-tiny: hidden ", o.hidden, ", heads ", o.heads,
            ", kv heads ", o.kvHeads, " are inconsistent");
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  // 1. Tokenizer: our own byte-level BPE on the training text.
  const CorpusText corpus = loadCorpus(o.corpus);
  reportProgress(progress, {"tokenizer", "training BPE", 0, 0});
  std::unique_ptr<Tokenizer> tok = trainByteLevelBpe(corpus.text, o.vocab, progress);
  const std::vector<int32_t> trainTokens = tok->encode(corpus.text, false);
  const std::vector<int32_t> evalTokens = tok->encode(loadCorpus("kjv:eval").text, false);
  const double tokenizerSeconds = elapsed();

  // 2. Model.
  ModelConfig c;
  c.architecture = "llama";
  c.vocabSize = tok->vocabSize();
  c.hiddenSize = o.hidden;
  c.intermediateSize = o.ffn;
  c.numLayers = o.layers;
  c.numHeads = o.heads;
  c.numKvHeads = o.kvHeads;
  c.headDim = o.hidden / o.heads;
  c.maxPositions = 1024;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 10000.0;
  c.tieWordEmbeddings = false;
  c.bosTokenId = tok->bosId();
  c.eosTokenId = tok->eosId();
  LlamaModel model(initWeights(c, o.seed));
  std::vector<torch::Tensor> decay, noDecay;
  collectParams(model.weights(), &decay, &noDecay);

  const torch::Tensor evalWin = consecutiveWindows(evalTokens, o.seqlen, o.evalWindows);  // [w, seqlen]
  const double untrainedPpl = heldOutPerplexity(model, evalWin);

  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(o.weightDecay).betas({0.9, 0.95})));
  groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0.0).betas({0.9, 0.95})));
  torch::optim::AdamW opt(groups);

  // 3. Train: random windows (seeded), cross-entropy on next tokens, cosine LR after warm-up.
  const auto trainStart = elapsed();
  double lastLoss = 0, emaLoss = 0;
  int step = 0;
  for (; step < o.steps; ++step) {
    if (o.maxSeconds > 0 && elapsed() - trainStart > o.maxSeconds) break;
    const double warm = std::min(1.0, (step + 1.0) / std::max(1, o.warmup));
    // With a time budget the schedule follows whichever runs out first, steps or seconds, so the
    // learning rate has decayed when training stops.
    double progressFrac = static_cast<double>(step) / std::max(1, o.steps);
    if (o.maxSeconds > 0) progressFrac = std::max(progressFrac, (elapsed() - trainStart) / o.maxSeconds);
    const double lr = o.lr * warm * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(M_PI * progressFrac)));
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

    auto batch = sampleWindows(trainTokens, o.batch, o.seqlen + 1, o.seed * 1000003ULL + static_cast<uint64_t>(step));
    auto input = batch.narrow(1, 0, o.seqlen);    // [B, T] i64
    auto target = batch.narrow(1, 1, o.seqlen);   // [B, T] i64
    auto logits = model.forward(input);           // [B, T, V]
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, c.vocabSize}), target.reshape({-1}));
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(decay, 1.0);
    opt.step();
    lastLoss = loss.item<double>();
    emaLoss = step == 0 ? lastLoss : 0.95 * emaLoss + 0.05 * lastLoss;
    char detail[96];
    std::snprintf(detail, sizeof detail, "loss %.3f lr %.2e", emaLoss, lr);
    reportProgress(progress, {"train", detail, step + 1, o.steps});
  }
  const double trainSeconds = elapsed() - trainStart;

  // 4. Evaluate and save.
  torch::NoGradGuard noGrad;
  for (auto* group : {&decay, &noDecay})
    for (auto& p : *group) p.set_requires_grad(false);
  const double trainedPpl = heldOutPerplexity(model, evalWin);
  const int64_t tokensSeen = static_cast<int64_t>(step) * o.batch * o.seqlen;

  nlohmann::json record = {
      {"command", "duoscope-cli train-tiny"},
      {"options", {{"layers", o.layers}, {"hidden", o.hidden}, {"heads", o.heads}, {"kv_heads", o.kvHeads},
                   {"ffn", o.ffn}, {"vocab", o.vocab}, {"seqlen", o.seqlen}, {"batch", o.batch},
                   {"steps", o.steps}, {"max_seconds", o.maxSeconds}, {"lr", o.lr}, {"warmup", o.warmup},
                   {"weight_decay", o.weightDecay}, {"seed", o.seed}, {"corpus", o.corpus}}},
      {"parameters", c.parameterCount()},
      {"steps_done", step},
      {"tokens_seen", tokensSeen},
      {"train_tokens", trainTokens.size()},
      {"tokenizer_seconds", tokenizerSeconds},
      {"train_seconds", trainSeconds},
      {"tokens_per_second", trainSeconds > 0 ? tokensSeen / trainSeconds : 0.0},
      {"final_train_loss_ema", emaLoss},
      {"heldout", {{"corpus", "kjv:eval"}, {"seqlen", o.seqlen}, {"windows", evalWin.size(0)},
                   {"perplexity_untrained", untrainedPpl}, {"perplexity_trained_f32", trainedPpl}}},
      {"torch_threads", at::get_num_threads()},
  };

  // saveHfCheckpoint assembles the folder next to outDir and renames it into place.
  const std::string tokTmp = (fs::temp_directory_path() / ("duo-train-tokenizer-" + std::to_string(::getpid()))).string();
  fs::create_directories(tokTmp);
  try {
    tok->saveTokenizerJson(tokTmp + "/tokenizer.json");
    saveHfCheckpoint(model.weights(), o.outDir, {{"torch_dtype", "float32"}}, tokTmp + "/tokenizer.json", progress);
    writeFileAtomic(o.outDir + "/training.json", record.dump(2) + "\n");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tokTmp, ec);
    throw;
  }
  fs::remove_all(tokTmp);
  return record;
}

}  // namespace duo
