#include "core/job/sensitivity_job.h"

#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/data/windows.h"
#include "core/job/prune_job.h"
#include "core/model/model_loader.h"
#include "core/perf/bytes_model.h"
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

// One forward + backward per window with a zero tensor requiring grad added at every projection's
// output: its gradient is G = d(window loss)/dY. Accumulates sum G^2 Y^2 per projection.
void lossWeightsOn(LlamaModel& model, const torch::Tensor& allWindows, SensitivityTable& t, const ProgressFn& progress,
                   Collective& dist) {
  // Data-parallel: each rank takes a contiguous share of the windows; the sums are added over ranks.
  const auto [w0, w1] = shareOf(allWindows.size(0), dist.rank(), dist.size());
  const torch::Tensor windows = allWindows.narrow(0, w0, w1 - w0);
  const int L = static_cast<int>(model.config().numLayers);
  DUO_CHECK(t.numLayers() == L, "loss weights: the table has ", t.numLayers(), " layers, the model ", L);
  std::vector<double> acc(static_cast<size_t>(L) * kNumProj, 0.0);
  std::vector<std::pair<int, torch::Tensor>> zs;  // (index, zero leaf)
  std::vector<torch::Tensor> ys;                  // the outputs, detached
  model.setOutputHook([&](int layer, Proj p, const torch::Tensor& y) {
    torch::Tensor z = torch::zeros_like(y).requires_grad_(true);
    zs.emplace_back(layer * kNumProj + static_cast<int>(p), z);
    ys.push_back(y.detach());
    return y + z;
  });
  struct Reset {
    LlamaModel& m;
    ~Reset() { m.setOutputHook({}); }
  } reset{model};
  torch::AutoGradMode grad(true);
  const int64_t n = windows.size(0), T = windows.size(1), V = model.config().vocabSize;
  int64_t tokens = 0;
  for (int64_t i = 0; i < n; ++i) {
    reportProgress(progress, Progress{"loss weights", "window " + std::to_string(i + 1), i, n});
    zs.clear();
    ys.clear();
    const torch::Tensor tok = windows.slice(0, i, i + 1).to(model.device());  // [1, T] i64
    const torch::Tensor logits = model.forward(tok);                           // [1, T, V]
    const torch::Tensor loss = torch::nn::functional::cross_entropy(
        logits.slice(1, 0, T - 1).reshape({-1, V}), tok.slice(1, 1, T).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    loss.backward();
    for (size_t k = 0; k < zs.size(); ++k) {
      const torch::Tensor g = zs[k].second.grad();
      if (!g.defined()) continue;
      acc[static_cast<size_t>(zs[k].first)] += (g.square() * ys[k].square()).sum().item<double>();
    }
    tokens += T - 1;
  }
  if (dist.size() > 1) {
    auto sums = torch::tensor(acc, torch::kFloat64);
    dist.allReduceSum(sums);
    for (size_t i = 0; i < acc.size(); ++i) acc[i] = sums[static_cast<int64_t>(i)].item<double>();
    tokens = dist.sum(tokens);
  }
  t.lossWindows = static_cast<int>(allWindows.size(0));
  reportProgress(progress, Progress{"loss weights", "done", n, n});
  for (int l = 0; l < L; ++l)
    for (int p = 0; p < kNumProj; ++p)
      t.at(l, static_cast<Proj>(p)).lossWeight =
          std::max(acc[static_cast<size_t>(l * kNumProj + p)] / (2.0 * static_cast<double>(tokens)), 1e-30);
}

// The prune job's calibration windows for req's source, size and seed (0 = the prune defaults for
// the model and device), filling in the sizes used.
torch::Tensor calibrationWindows(SensitivityRequest& req, const LoadedModel& m, const torch::Device& device) {
  int defN = 0, defL = 0;
  defaultCalibration(m.model->config().parameterCount(), device.is_cuda(), &defN, &defL);
  if (req.nsamples <= 0) req.nsamples = defN;
  if (req.seqlen <= 0) req.seqlen = defL;
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
  LoadedModel m = loadModel(req.model, device, progress);
  lossWeightsOn(*m.model, calibrationWindows(req, m, device), t, progress, *singleProcess());
}

SensitivityTable runSensitivity(const SensitivityRequest& reqIn, const ProgressFn& progress) {
  SensitivityRequest req = reqIn;
  req.options.validate();
  SensitivityRequest lossReq = lossWindowsRequest(req);  // checked before any work
  torch::Device device = chooseDevice(req.device);
  if (device.is_cuda() && req.dist.distributed())  // one GPU per local rank
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(req.dist.localRank % std::max<int64_t>(
                                                                         1, static_cast<int64_t>(torch::cuda::device_count()))));
  const std::unique_ptr<Collective> dist = openCollective(req.dist, device);
  req.options.dist = dist.get();
  LoadedModel m = loadModel(req.model, device, progress);
  const torch::Tensor windows = calibrationWindows(req, m, device);
  SensitivityTable t = computeSensitivity(m.model->weights(), windows, req.options, device, progress);
  req.options.dist = nullptr;
  t.model = req.model;
  t.calib = req.calibSource;
  t.seed = req.seed;
  // The same windows unless --loss-windows asks for another number of them (req.nsamples is resolved now).
  const bool ownWindows = req.lossWindows > 0 && req.lossWindows != req.nsamples;
  lossWeightsOn(*m.model, ownWindows ? calibrationWindows(lossReq, m, device) : windows, t, progress, *dist);
  fillDecodeTimes(t, req.contextTokens, req.bandwidthGbs, req.timing);
  return t;
}

}  // namespace duo
