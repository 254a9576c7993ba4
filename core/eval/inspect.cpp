// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/eval/inspect.h"

#include <array>
#include <chrono>

#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/windows.h"
#include "core/eval/checkpoint_rule.h"
#include "core/model/layerwise.h"
#include "core/model/model_loader.h"
#include "core/prune/act_hook.h"

namespace duo {

namespace {
double sq(const torch::Tensor& t) { return t.to(torch::kFloat64).pow(2).sum().item<double>(); }

void checkSameShape(const ModelConfig& a, const ModelConfig& b, const InspectRequest& r) {
  DUO_CHECK(a.numLayers == b.numLayers && a.hiddenSize == b.hiddenSize && a.intermediateSize == b.intermediateSize &&
                a.numHeads == b.numHeads && a.numKvHeads == b.numKvHeads && a.vocabSize == b.vocabSize,
            "inspect: '", r.pruned, "' (", b.numLayers, " layers, d=", b.hiddenSize, ", ffn=", b.intermediateSize,
            ") is not the same architecture as '", r.dense, "' (", a.numLayers, " layers, d=", a.hiddenSize,
            ", ffn=", a.intermediateSize, ")");
}
}  // namespace

nlohmann::json InspectResult::toJson() const {
  nlohmann::json pj = nlohmann::json::array(), lj = nlohmann::json::array();
  for (const auto& p : projs)
    pj.push_back({{"layer", p.layer}, {"proj", projName(p.proj)}, {"rel_error", p.relError},
                  {"weight_sparsity", p.weightSparsity}, {"act_sparsity", p.actSparsity}});
  for (const auto& l : layers) lj.push_back({{"layer", l.layer}, {"hidden_rel_error", l.hiddenRelError}});
  return {{"dense", dense},     {"pruned", pruned},   {"corpus", corpus},  {"act_rule", actRule},
          {"seqlen", seqlen},   {"windows", windows}, {"tokens", tokens},  {"weight_sparsity", weightSparsity},
          {"projections", pj},  {"layers", lj},       {"seconds", seconds}};
}

InspectResult inspectPruned(const InspectRequest& req, const ProgressFn& progress) {
  torch::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  const torch::Device device = chooseDevice(req.device);
  // Both models through the layer streamer: one layer of each resident at a time.
  OpenedModel dense = openModel(req.dense);
  OpenedModel pruned = openModel(req.pruned);
  const ModelConfig& cfg = dense.source->config();
  checkSameShape(cfg, pruned.source->config(), req);
  const int L = static_cast<int>(cfg.numLayers);

  const CheckpointActRule rule = readCheckpointActRule(pruned.info.path, L);
  const InputHook ruleHook = rule.present ? makeActivationHook(rule.sparsity, rule.thresholds) : InputHook{};

  const CorpusText text = loadCorpus(resolveEvalSource(req.corpus, dense.info.path));
  const auto windows = consecutiveWindows(dense.tokenizer->encode(text.text, false), req.seqlen, req.maxWindows);  // [w, T] i64
  const int64_t w = windows.size(0);

  InspectResult res;
  res.dense = dense.info.path;
  res.pruned = pruned.info.path;
  res.corpus = text.name;
  res.actRule = rule.rule;
  res.seqlen = req.seqlen;
  res.windows = w;
  res.tokens = w * req.seqlen;

  // Sums over all windows: [layer][proj] error numerator/denominator, [layer][site] zero counts.
  std::vector<std::array<double, kNumProj>> errNum(L), errDen(L);
  std::vector<std::array<double, kNumSites>> zeros(L), entries(L);
  std::vector<double> hidNum(L, 0.0), hidDen(L, 0.0);
  for (int l = 0; l < L; ++l) {
    errNum[l].fill(0), errDen[l].fill(0), zeros[l].fill(0), entries[l].fill(0);
  }

  // Every window batch goes through layer l of both models before layer l + 1 is read.
  const int batch = std::max(1, req.batch);
  LayerwiseBatches streamD(cfg, device), streamP(cfg, device);
  for (int64_t i = 0; i < w; i += batch) {
    streamD.add(windows.narrow(0, i, std::min<int64_t>(batch, w - i)));
    streamP.add(windows.narrow(0, i, std::min<int64_t>(batch, w - i)));
  }
  streamD.embed(dense.source->embed());
  streamP.embed(pruned.source->embed());
  std::vector<double> weightZeros(static_cast<size_t>(L) * kNumProj, 0.0), weightCount(weightZeros.size(), 0.0);
  for (int l = 0; l < L; ++l) {
    reportProgress(progress, {"inspect", "layer " + std::to_string(l), l, L});
    const LayerWeights wd = layerToDevice(dense.source->layer(l), device);   // f32
    const LayerWeights wp = layerToDevice(pruned.source->layer(l), device);  // f32
    for (int p = 0; p < kNumProj; ++p) {
      const auto& W = wp.proj[static_cast<size_t>(p)];  // [n_out, k_in] f32
      weightZeros[static_cast<size_t>(l) * kNumProj + p] = static_cast<double>((W == 0).sum().item<int64_t>());
      weightCount[static_cast<size_t>(l) * kNumProj + p] = static_cast<double>(W.numel());
    }
    for (size_t bi = 0; bi < streamD.size(); ++bi) {
      std::array<torch::Tensor, kNumSites> xd, xp;  // each [b, T, k_in] f32: the site inputs of layer l
      const InputHook hookD = [&](int, Site s, const torch::Tensor& x) {
        xd[static_cast<int>(s)] = x;
        return x;
      };
      const InputHook hookP = [&](int layer, Site s, const torch::Tensor& x) {
        torch::Tensor y = ruleHook ? ruleHook(layer, s, x) : x;
        xp[static_cast<int>(s)] = y;
        return y;
      };
      const torch::Tensor& hd = streamD.hidden(bi);  // [b, T, d] f32 dense stream
      const torch::Tensor& hp = streamP.hidden(bi);  // [b, T, d] f32 pruned stream
      auto nd = streamD.runner().layer(l, hd, hookD, &wd);
      auto np = streamP.runner().layer(l, hp, hookP, &wp);
      for (int p = 0; p < kNumProj; ++p) {
        const int s = static_cast<int>(siteOf(static_cast<Proj>(p)));
        DUO_ASSERT(xd[s].defined() && xp[s].defined());
        auto yd = torch::matmul(xd[s], wd.proj[static_cast<size_t>(p)].t());  // [b, T, n_out] f32
        auto yp = torch::matmul(xp[s], wp.proj[static_cast<size_t>(p)].t());  // [b, T, n_out] f32
        errNum[l][p] += sq(yp - yd);
        errDen[l][p] += sq(yd);
      }
      for (int s = 0; s < kNumSites; ++s) {
        zeros[l][s] += static_cast<double>((xp[s] == 0).sum().item<int64_t>());
        entries[l][s] += static_cast<double>(xp[s].numel());
      }
      hidNum[l] += sq(np - nd);
      hidDen[l] += sq(nd);
      streamD.setHidden(bi, nd);
      streamP.setHidden(bi, np);
    }
  }
  reportProgress(progress, {"inspect", "done", L, L});

  double wz = 0, wn = 0;
  for (int l = 0; l < L; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      const double z = weightZeros[static_cast<size_t>(l) * kNumProj + p];
      const double n = weightCount[static_cast<size_t>(l) * kNumProj + p];
      wz += z;
      wn += n;
      const int s = static_cast<int>(siteOf(static_cast<Proj>(p)));
      InspectProj ip;
      ip.layer = l;
      ip.proj = static_cast<Proj>(p);
      ip.relError = errDen[l][p] > 0 ? errNum[l][p] / errDen[l][p] : 0.0;
      ip.weightSparsity = z / n;
      ip.actSparsity = entries[l][s] > 0 ? zeros[l][s] / entries[l][s] : 0.0;
      res.projs.push_back(ip);
    }
    res.layers.push_back({l, hidDen[l] > 0 ? hidNum[l] / hidDen[l] : 0.0});
  }
  res.weightSparsity = wn > 0 ? wz / wn : 0.0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace duo
