// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/sensitivity_compute.h"

#include <array>
#include <chrono>
#include <string>

#include "core/common/error.h"
#include "core/dist/collective.h"
#include "core/model/layerwise.h"
#include "core/model/llama_model.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/input_stats.h"
#include "core/prune/magnitude.h"
#include "core/prune/obs_solver.h"
#include "core/prune/wanda.h"
#include "core/prune/window_chunks.h"

namespace duo {

double combineSensitivity(double weightError, double actError, double actEnergy) {
  // The weight error is measured on dense inputs; entries topk drops no longer see the pruned
  // weights, so only the kept share of the input energy carries it. The two error terms are
  // taken as uncorrelated (no cross term).
  return weightError * (1.0 - actEnergy) + actError;
}

namespace {

// The projections of each site, in data-flow order.
const std::array<std::vector<Proj>, kNumSites> kSiteProjs = {
    std::vector<Proj>{Proj::Q, Proj::K, Proj::V}, std::vector<Proj>{Proj::O},
    std::vector<Proj>{Proj::Gate, Proj::Up}, std::vector<Proj>{Proj::Down}};

class SensitivityRunner : WindowChunks {
 public:
  SensitivityRunner(WeightSource& dense, const SensitivityOptions& opts, torch::Device device,
                    const ProgressFn& progress)
      : WindowChunks(opts.dist, opts.batchWindows),
        m_dense(dense),
        m_opts(opts),
        m_device(device),
        m_progress(progress),
        m_runner(configOnly(dense.config()), device) {}

  // All ranks' windows in; this rank runs the forward on its share of the chunks.
  SensitivityTable run(const torch::Tensor& allWindows) {
    const ChunkShare share = shareWindows(allWindows.size(0), "sensitivity");
    m_tokenOffset = share.begin * allWindows.size(1);
    const torch::Tensor windows = share.of(allWindows);
    const int L = static_cast<int>(m_dense.config().numLayers);
    m_table.config = m_dense.config();
    m_table.gridW = m_opts.gridW;
    m_table.gridA = m_opts.gridA;
    m_table.estimator = m_opts.estimator;
    m_table.projs.resize(static_cast<size_t>(L) * kNumProj);
    m_table.outlierRatio.assign(static_cast<size_t>(L), 0.0);
    m_total = int64_t(L) * kNumSites;
    // The dense stream [N, T, d] f32 on the device.
    const torch::Tensor embed = m_dense.embed();  // [vocab, d] source dtype
    m_h = torch::embedding(embed, windows.to(embed.device())).to(m_device, torch::kFloat32).contiguous();
    for (int l = 0; l < L; ++l) runLayer(l);
    return std::move(m_table);
  }

 private:
  void report(const std::string& detail) { reportProgress(m_progress, {"sensitivity", detail, m_done, m_total}); }

  void runLayer(int l) {
    const LayerWeights lw = layerToDevice(m_dense.layer(l), m_device);  // this layer on the device, f32

    // One pass: capture the 4 sites' inputs and move the stream through the layer.
    std::array<std::vector<torch::Tensor>, kNumSites> parts;  // per site, chunks of [b T, k] f32
    const InputHook hook = [&](int, Site s, const torch::Tensor& x) {
      parts[static_cast<size_t>(s)].push_back(x.reshape({-1, x.size(-1)}));
      return x;
    };
    const int64_t n = m_h.size(0);
    for (int64_t i0 = 0; i0 < n; i0 += m_bw) {
      report("layer " + std::to_string(l) + " forward");
      auto chunk = m_h.narrow(0, i0, std::min<int64_t>(m_bw, n - i0));
      chunk.copy_(m_runner.layer(l, chunk, hook, &lw));
    }

    double scoreSum = 0;
    int64_t scoreCount = 0;
    std::vector<torch::Tensor> scores;  // per projection [n, k] f32: Wanda scores for OWL
    for (int s = 0; s < kNumSites; ++s) {
      const torch::Tensor X = torch::cat(parts[static_cast<size_t>(s)], 0);  // [m, k] f32 dense inputs
      parts[static_cast<size_t>(s)].clear();
      runSite(l, static_cast<Site>(s), X, lw, scores, &scoreSum, &scoreCount);
      ++m_done;
      report("layer " + std::to_string(l) + " " + siteName(static_cast<Site>(s)));
    }
    // OWL's layerwise outlier ratio over the layer's 7 projections.
    const double threshold = m_opts.owlM * scoreSum / static_cast<double>(std::max<int64_t>(1, scoreCount));
    int64_t outliers = 0;
    for (const auto& sc : scores) outliers += sc.gt(threshold).sum().item<int64_t>();
    m_table.outlierRatio[static_cast<size_t>(l)] = static_cast<double>(outliers) / static_cast<double>(scoreCount);
  }

  void runSite(int l, Site site, const torch::Tensor& X, const LayerWeights& lw, std::vector<torch::Tensor>& scores,
               double* scoreSum, int64_t* scoreCount) {
    const int64_t m = X.size(0), k = X.size(1);
    StatsOptions so;
    so.device = m_device;
    so.trackResidual = false;
    InputStats stats(k, so);
    stats.addBatch(X);  // H = X^T X, scale 2/m
    stats.allReduce(m_dist);
    const int64_t mAll = stats.tokens();  // over all ranks
    const torch::Tensor colNorm = stats.inputNorms();  // [k] f32 ||X_j|| up to the scale

    ObsOptions obs;
    obs.useResidual = false;
    obs.damping = m_opts.damping;
    obs.blockSize = m_opts.blockSize;
    ObsFactor factor;
    if (m_opts.estimator == WeightEstimator::Obs) {
      try {
        factor = factorObs(stats, obs);
      } catch (...) {
        rethrowWithContext("layer " + std::to_string(l) + " " + siteName(site) + " inputs");
      }
    }

    // The activation term's tokens: every stride-th token of all ranks' tokens (all when actTokens
    // is 0 or >= m); this rank's are those of its share.
    const int64_t stride =
        m_opts.actTokens > 0 && mAll > m_opts.actTokens ? (mAll + m_opts.actTokens - 1) / m_opts.actTokens : 1;
    const int64_t first = (stride - m_tokenOffset % stride) % stride;
    const torch::Tensor Xa = stride > 1 ? X.slice(0, std::min(first, m), m, stride) : X;  // [ma, k] f32
    m_table.actTokens = m_dist.sum(static_cast<int64_t>(Xa.size(0)));
    const size_t nW = m_opts.gridW.size(), nA = m_opts.gridA.size();
    std::vector<torch::Tensor> dXa(nA);  // [ma, k] f32: X - S(X) per p_a (undefined at p_a = 0)
    // Sums over the activation term's tokens: ||X||^2, then ||X - S(X)||^2 per p_a (all ranks).
    std::vector<double> energy(nA + 1, 0.0);
    energy[0] = Xa.square().sum(torch::kFloat64).item<double>();
    for (size_t ia = 0; ia < nA; ++ia) {
      if (m_opts.gridA[ia] <= 0.0) continue;
      dXa[ia] = Xa - sparsifyTopK(Xa, m_opts.gridA[ia]);
      energy[ia + 1] = dXa[ia].square().sum(torch::kFloat64).item<double>();
    }
    sumOverRanks(energy);
    const double xEnergy = energy[0];
    std::vector<double> rho(nA, 0.0);
    for (size_t ia = 0; ia < nA; ++ia) rho[ia] = xEnergy > 0 ? energy[ia + 1] / xEnergy : 0.0;

    for (Proj p : kSiteProjs[static_cast<size_t>(site)]) {
      report("layer " + std::to_string(l) + " " + projName(p));
      const torch::Tensor& W = lw.w(p);  // [n, k] f32
      ProjSensitivity& ps = m_table.at(l, p);
      ps.layer = l;
      ps.proj = p;
      ps.rows = W.size(0);
      ps.cols = W.size(1);
      ps.actEnergy = rho;
      ps.actError.assign(nA, 0.0);
      ps.weightError.assign(nW, 0.0);
      // ||W X||^2 and ||W (X - S(X))||^2 on the activation term's tokens, summed over ranks.
      std::vector<double> y(nA + 1, 0.0);
      y[0] = Xa.matmul(W.t()).square().sum(torch::kFloat64).item<double>();
      for (size_t ia = 0; ia < nA; ++ia)
        if (dXa[ia].defined()) y[ia + 1] = dXa[ia].matmul(W.t()).square().sum(torch::kFloat64).item<double>();
      sumOverRanks(y);
      const double yEnergy = y[0];
      for (size_t ia = 0; ia < nA; ++ia)
        if (dXa[ia].defined() && yEnergy > 0) ps.actError[ia] = y[ia + 1] / yEnergy;
      for (size_t iw = 0; iw < nW; ++iw) {
        const double pw = m_opts.gridW[iw];
        if (pw <= 0.0) continue;
        // Grid points round-robin over the ranks (every rank has the same statistics and weights).
        if ((static_cast<int64_t>(l * kNumProj + static_cast<int>(p)) * static_cast<int64_t>(nW) +
             static_cast<int64_t>(iw)) % m_dist.size() != m_dist.rank())
          continue;
        const MaskSpec spec{pw, {}};
        torch::Tensor Wp;  // [n, k] f32
        try {
          switch (m_opts.estimator) {
            case WeightEstimator::Obs: Wp = pruneObs(W, factor, obs, spec).weight; break;
            case WeightEstimator::Wanda: Wp = pruneWanda(W, colNorm, spec).weight; break;
            case WeightEstimator::Magnitude: Wp = pruneMagnitude(W, spec).weight; break;
          }
          ps.weightError[iw] = relativeOutputError(stats, W, Wp);
        } catch (...) {
          rethrowWithContext("layer " + std::to_string(l) + " " + projName(p) + " at p_w " + std::to_string(pw));
        }
      }
      sumOverRanks(ps.weightError);  // each point from the rank that computed it, 0 elsewhere
      ps.error.assign(nW * nA, 0.0);
      for (size_t iw = 0; iw < nW; ++iw)
        for (size_t ia = 0; ia < nA; ++ia)
          ps.error[iw * nA + ia] = combineSensitivity(ps.weightError[iw], ps.actError[ia], ps.actEnergy[ia]);
      // Wanda scores of this projection for the layer's OWL outlier ratio.
      torch::Tensor sc = W.abs() * colNorm.unsqueeze(0);  // [n, k] f32
      *scoreSum += sc.sum().item<double>();
      *scoreCount += sc.numel();
      scores.push_back(sc);
    }
  }

  // Element-wise sums over the ranks (f64 on the host).
  void sumOverRanks(std::vector<double>& v) {
    if (m_dist.size() == 1 || v.empty()) return;
    auto t = torch::tensor(v, torch::kFloat64);
    m_dist.allReduceSum(t);
    for (size_t i = 0; i < v.size(); ++i) v[i] = t[static_cast<int64_t>(i)].item<double>();
  }

  WeightSource& m_dense;
  const SensitivityOptions& m_opts;
  torch::Device m_device;
  const ProgressFn& m_progress;
  LlamaModel m_runner;
  int64_t m_tokenOffset = 0;  // this rank's first token among all ranks' tokens (in window order)
  SensitivityTable m_table;
  torch::Tensor m_h;  // [N, T, d] f32 dense stream
  int64_t m_done = 0, m_total = 0;
};

}  // namespace

SensitivityTable computeSensitivity(const LlamaWeights& dense, const torch::Tensor& windows,
                                    const SensitivityOptions& opts, torch::Device device, const ProgressFn& progress) {
  DUO_CHECK(static_cast<int64_t>(dense.layers.size()) == dense.config.numLayers, "sensitivity: config says ",
            dense.config.numLayers, " layers, weights have ", dense.layers.size());
  return computeSensitivity(*memoryWeightSource(dense), windows, opts, device, progress);
}

SensitivityTable computeSensitivity(WeightSource& dense, const torch::Tensor& windows, const SensitivityOptions& opts,
                                    torch::Device device, const ProgressFn& progress) {
  opts.validate();
  DUO_CHECK(windows.dim() == 2 && windows.size(0) > 0 && windows.size(1) > 0 &&
                (windows.scalar_type() == torch::kInt64 || windows.scalar_type() == torch::kInt32),
            "sensitivity: expected token windows [nsamples, seqlen] i64, got ", windows.sizes(), " ",
            windows.scalar_type());
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard noGrad;
  SensitivityRunner r(dense, opts, device, progress);
  SensitivityTable t = r.run(windows.to(torch::kInt64));
  t.nsamples = static_cast<int>(windows.size(0));
  t.seqlen = static_cast<int>(windows.size(1));
  t.secondsCompute = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

}  // namespace duo
