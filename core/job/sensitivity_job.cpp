// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/sensitivity_job.h"

#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/windows.h"
#include "core/engine/bytes_model.h"
#include "core/job/prune_job.h"
#include "core/model/layerwise.h"
#include "core/model/llama_model.h"
#include "core/model/model_loader.h"
#include "core/prune/sensitivity_compute.h"

#include "core/dist/collective.h"

namespace duo {


void fillDecodeTimes(SensitivityTable& t, int contextTokens, double bandwidthGbs, const perf::TimingProfile* timing) {
  if (timing != nullptr && timing->empty()) timing = nullptr;
  const perf::ModelShape shape = perf::shapeOf(t.config);
  perf::DecodeInput in;  // dense: no layers given
  in.shape = shape;
  in.contextTokens = contextTokens;
  in.bandwidthGbs = bandwidthGbs;
  in.timing = timing;
  const perf::DecodePrediction dense = perf::predictDecode(in);
  t.contextTokens = contextTokens;
  t.bandwidthGbs = bandwidthGbs;
  t.denseStepSeconds = dense.denseSeconds.total();
  t.fixedSeconds = dense.denseSeconds.total() - dense.denseSeconds.projections;
  const size_t nW = t.gridW.size(), nA = t.gridA.size();
  for (ProjSensitivity& ps : t.projs) {
    // perf::Projection has Proj's order: q, k, v, o, gate, up, down (as in decode_estimate.cpp).
    const auto proj = static_cast<perf::Projection>(static_cast<int>(ps.proj));
    perf::MatVec m = perf::projectionShape(shape, proj);
    m.type = in.weightType;
    ps.denseSeconds = perf::kernelSeconds(perf::Kernel::Dense, m, bandwidthGbs, timing);
    ps.seconds.assign(nW * nA, 0.0);
    for (size_t iw = 0; iw < nW; ++iw)
      for (size_t ia = 0; ia < nA; ++ia) {
        m.pW = t.gridW[iw];
        m.pA = t.gridA[ia];
        perf::LayerSparsity site{};  // the site's p_a on every projection: what the config gives them
        for (auto& point : site) point.pA = m.pA;
        ps.seconds[iw * nA + ia] = perf::kernelSeconds(perf::fastestKernel(m, timing), m, bandwidthGbs, timing) +
                                   perf::sparsifySeconds(shape, proj, site, timing);
      }
  }
}

namespace {

// The loss weights through the layer streamer, with a per-layer checkpointed backward: a forward
// pass keeps every window's input of every layer ([n, T, d] f32 per layer on the device); the head
// gives d(window loss)/d(last hidden state); then layers L-1 .. 0 are read one at a time, each
// window's layer input is pushed through it again with autograd on and a zero tensor requiring
// grad added at every projection's output, and the gradient at the layer's output is propagated
// to its input. The gradient at a projection's output is G = d(window loss)/dY, as in one backward
// pass of the whole model; sum G^2 Y^2 per projection is accumulated. Memory: one layer (f32), the
// layer inputs of all layers (L x n x T x d f32) and one window's autograd graph of one layer.
// Data-parallel: each rank takes a contiguous share of the windows and the sums are added.
void lossWeightsOn(WeightSource& source, const torch::Tensor& allWindows, SensitivityTable& t,
                   const ProgressFn& progress, Collective& dist, torch::Device device) {
  const ModelConfig& cfg = source.config();
  const int L = static_cast<int>(cfg.numLayers);
  DUO_CHECK(t.numLayers() == L, "loss weights: the table has ", t.numLayers(), " layers, the model ", L);
  const auto [w0, w1] = shareOf(allWindows.size(0), dist.rank(), dist.size());
  const torch::Tensor windows = allWindows.narrow(0, w0, w1 - w0).to(torch::kInt64);
  const int64_t n = windows.size(0), T = windows.size(1), V = cfg.vocabSize;
  const int64_t steps = int64_t(L) * 2 + 1;  // forward layers, the head, backward layers
  int64_t step = 0;
  auto report = [&](const std::string& what) { reportProgress(progress, Progress{"loss weights", what, step++, steps}); };
  LlamaModel runner(configOnly(cfg), device);
  std::vector<double> acc(static_cast<size_t>(L) * kNumProj, 0.0);
  std::vector<torch::Tensor> inputs(static_cast<size_t>(L));  // [n, T, d] f32: each layer's input
  torch::Tensor h;                                            // [n, T, d] f32
  {
    torch::NoGradGuard noGrad;
    const torch::Tensor embed = source.embed();
    h = torch::embedding(embed, windows.to(embed.device())).to(device, torch::kFloat32).contiguous();
    for (int l = 0; l < L; ++l) {
      report("layer " + std::to_string(l) + " forward");
      const LayerWeights lw = layerToDevice(source.layer(l), device);
      inputs[static_cast<size_t>(l)] = h;
      torch::Tensor out = torch::empty_like(h);
      for (int64_t i = 0; i < n; ++i) out.narrow(0, i, 1).copy_(runner.layer(l, h.narrow(0, i, 1), {}, &lw));
      h = out;
    }
  }
  torch::AutoGradMode gradMode(true);
  // The head: the gradient of each window's summed token loss at the last hidden state.
  report("head");
  torch::Tensor grad = torch::empty_like(h);  // [n, T, d] d(loss)/d(layer output)
  {
    const torch::Tensor fn = source.finalNorm().to(device, torch::kFloat32);
    const torch::Tensor head = source.lmHead().to(device, torch::kFloat32);
    for (int64_t i = 0; i < n; ++i) {
      const torch::Tensor x = h.narrow(0, i, 1).detach().requires_grad_(true);  // [1, T, d]
      const torch::Tensor logits = torch::linear(rmsNorm(x, fn, cfg.rmsNormEps), head);  // [1, T, V]
      const torch::Tensor tok = windows.narrow(0, i, 1).to(device);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(
          logits.slice(1, 0, T - 1).reshape({-1, V}), tok.slice(1, 1, T).reshape({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      loss.backward();
      grad.narrow(0, i, 1).copy_(x.grad());
    }
  }
  h = torch::Tensor();
  // Layers from the last: re-run each window's layer with autograd, read G at every projection.
  std::vector<std::pair<int, torch::Tensor>> zs;  // (index, zero leaf)
  std::vector<torch::Tensor> ys;                  // the outputs, detached
  runner.setOutputHook([&](int layer, Proj p, const torch::Tensor& y) {
    torch::Tensor z = torch::zeros_like(y).requires_grad_(true);
    zs.emplace_back(layer * kNumProj + static_cast<int>(p), z);
    ys.push_back(y.detach());
    return y + z;
  });
  for (int l = L - 1; l >= 0; --l) {
    report("layer " + std::to_string(l) + " backward");
    const LayerWeights lw = layerToDevice(source.layer(l), device);
    torch::Tensor& in = inputs[static_cast<size_t>(l)];
    for (int64_t i = 0; i < n; ++i) {
      zs.clear();
      ys.clear();
      const torch::Tensor x = in.narrow(0, i, 1).detach().requires_grad_(true);
      const torch::Tensor out = runner.layer(l, x, {}, &lw);
      out.backward(grad.narrow(0, i, 1));
      for (size_t k = 0; k < zs.size(); ++k) {
        const torch::Tensor g = zs[k].second.grad();
        if (g.defined()) acc[static_cast<size_t>(zs[k].first)] += (g.square() * ys[k].square()).sum().item<double>();
      }
      grad.narrow(0, i, 1).copy_(x.grad());  // now d(loss)/d(layer input) = the previous layer's output
    }
    in = torch::Tensor();  // released as the walk goes down
  }
  runner.setOutputHook({});
  int64_t tokens = n * (T - 1);
  if (dist.size() > 1) {
    auto sums = torch::tensor(acc, torch::kFloat64);
    dist.allReduceSum(sums);
    for (size_t i = 0; i < acc.size(); ++i) acc[i] = sums[static_cast<int64_t>(i)].item<double>();
    tokens = dist.sum(tokens);
  }
  reportProgress(progress, Progress{"loss weights", "done", steps, steps});
  t.lossWindows = static_cast<int>(allWindows.size(0));
  for (int l = 0; l < L; ++l)
    for (int p = 0; p < kNumProj; ++p)
      t.at(l, static_cast<Proj>(p)).lossWeight =
          std::max(acc[static_cast<size_t>(l * kNumProj + p)] / (2.0 * static_cast<double>(tokens)), 1e-30);
}

// The prune job's calibration windows for req's source, size and seed (0 = the prune defaults for
// the model and device), filling in the sizes used.
torch::Tensor calibrationWindows(SensitivityRequest& req, const OpenedModel& m, const torch::Device& device) {
  int defN = 0, defL = 0;
  defaultCalibration(m.source->config().parameterCount(), device.is_cuda(), &defN, &defL);
  if (req.nsamples <= 0) req.nsamples = defN;
  if (req.seqlen <= 0) req.seqlen = defL;
  req.calibSource = resolveCalibSource(req.calibSource, m.info.path);
  const CorpusText calib = loadCorpus(req.calibSource);
  const auto tokens = m.tokenizer->encode(calib.text, false);
  return sampleWindows(tokens, req.nsamples, req.seqlen, req.seed);  // [n, seqlen] i64
}

// The request for the loss weights' windows: req with nsamples = lossWindows when that is set.
SensitivityRequest lossWindowsRequest(const SensitivityRequest& req) {
  DUO_CHECK(req.lossWindows >= 0, "loss weights: --loss-windows must be >= 0, got ", req.lossWindows);
  SensitivityRequest r = req;
  if (req.lossWindows > 0) r.nsamples = req.lossWindows;
  return r;
}

}  // namespace

void computeLossWeights(SensitivityTable& t, const SensitivityRequest& reqIn, const ProgressFn& progress) {
  SensitivityRequest req = lossWindowsRequest(reqIn);
  const torch::Device device = chooseDevice(req.device);
  OpenedModel m = openModel(req.model);  // the layer streamer: one layer resident at a time
  lossWeightsOn(*m.source, calibrationWindows(req, m, device), t, progress, *singleProcess(), device);
}

SensitivityTable runSensitivity(const SensitivityRequest& reqIn, const ProgressFn& progress) {
  SensitivityRequest req = reqIn;
  req.options.validate();
  SensitivityRequest lossReq = lossWindowsRequest(req);  // checked before any work
  const torch::Device device = rankDevice(chooseDevice(req.device), req.dist);
  const std::unique_ptr<Collective> dist = openCollective(req.dist, device);
  req.options.dist = dist.get();
  OpenedModel m = openModel(req.model);  // the layer streamer: one layer resident at a time
  const torch::Tensor windows = calibrationWindows(req, m, device);
  SensitivityTable t = computeSensitivity(*m.source, windows, req.options, device, progress);
  req.options.dist = nullptr;
  t.model = req.model;
  t.calib = req.calibSource;
  t.seed = req.seed;
  // The same windows unless --loss-windows asks for another number of them (req.nsamples is resolved now).
  const bool ownWindows = req.lossWindows > 0 && req.lossWindows != req.nsamples;
  lossWeightsOn(*m.source, ownWindows ? calibrationWindows(lossReq, m, device) : windows, t, progress, *dist, device);
  fillDecodeTimes(t, req.contextTokens, req.bandwidthGbs, req.timing);
  return t;
}

}  // namespace duo
