#include "core/prune/calibrate.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/common/error.h"
#include "core/model/layerwise.h"
#include "core/model/llama_model.h"
#include "core/prune/act_hook.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/input_stats.h"
#include "core/prune/magnitude.h"
#include "core/prune/wanda.h"

namespace duo {

namespace {

// Thrown by a capture hook once its site's input is in hand: the rest of the layer is not needed.
struct StopForward {};

// The data-flow groups of one decoder layer (method section 5): one input site each.
struct Group {
  Site site;
  std::vector<Proj> projs;
};
const Group kGroups[] = {{Site::Qkv, {Proj::Q, Proj::K, Proj::V}},
                         {Site::O, {Proj::O}},
                         {Site::GateUp, {Proj::Gate, Proj::Up}},
                         {Site::Down, {Proj::Down}}};

// Wall time with the device drained, so that asynchronous CUDA work lands in the right bucket.
class Stopwatch {
 public:
  explicit Stopwatch(torch::Device d) : m_cuda(d.is_cuda()) { m_t0 = now(); }
  double lap() {
    const double t = now();
    const double dt = t - m_t0;
    m_t0 = t;
    return dt;
  }

 private:
  double now() const {
    if (m_cuda) torch::cuda::synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  bool m_cuda;
  double m_t0;
};

// The pruned stream sees the activation rule during calibration for these methods only.
bool sparseStream(Method m) { return m == Method::DuoGpt || m == Method::SparseGptSparseIn || m == Method::Teal; }
bool isObs(Method m) { return m == Method::DuoGpt || m == Method::SparseGpt || m == Method::SparseGptSparseIn; }

std::string where(int layer, const std::string& what) { return "layer " + std::to_string(layer) + " " + what; }

class Calibrator {
 public:
  Calibrator(WeightSource& source, const CalibrateOptions& opts, const ProgressFn& progress,
             const RecordFn& onRecord, const LayerFn& onLayer)
      : m_source(source),
        m_opts(opts),
        m_progress(progress),
        m_onRecord(onRecord),
        m_onLayer(onLayer),
        m_runner(configOnly(source.config()), opts.device),
        m_clock(opts.device),
        m_streamDevice(opts.streamDevice.value_or(opts.device)) {}

  CalibrationResult run(const torch::Tensor& windows) {
    const int L = static_cast<int>(m_source.config().numLayers);
    if (m_opts.sparsity.actRule == ActRule::Threshold) m_res.thresholds.resize(L);
    m_total = int64_t(L) * kNumProj;
    // Both streams start at the embeddings: [N, T, d] in the stream dtype (f32 by default), looked
    // up in the source dtype so that no f32 copy of the whole table is made.
    report("embedding");
    const torch::Tensor embed = m_source.embed();  // [vocab, d] source dtype
    m_hD = torch::embedding(embed, windows.to(embed.device()))
               .to(m_streamDevice, m_opts.streamDtype)
               .contiguous();
    m_hP = m_hD.clone();
    // Baselines calibrate on dense activations; their records are measured on a third stream that
    // is the exported model (pruned weights, activation rule on), unless no site is sparsified.
    bool anyAct = false;
    for (int l = 0; l < L; ++l)
      for (int s = 0; s < kNumSites; ++s) anyAct = anyAct || m_opts.sparsity.siteAct(l, static_cast<Site>(s)) > 0.0;
    if (!sparseStream(m_opts.method) && anyAct) m_hE = m_hD.clone();
    m_res.secondsForward += m_clock.lap();
    for (int l = 0; l < L; ++l) runLayer(l);
    return std::move(m_res);
  }

 private:
  torch::Tensor applyAct(int layer, Site site, const torch::Tensor& x) const {
    return applyActivationRule(m_opts.sparsity, m_res.thresholds, layer, site, x);
  }

  // Rows [i0, i0 + b) of a stream as the compute device's f32 [b, T, d]: a view when the stream is
  // there in f32 already.
  torch::Tensor chunk(const torch::Tensor& stream, int64_t i0, int64_t b) const {
    return stream.narrow(0, i0, b).to(m_opts.device, torch::kFloat32);
  }

  // The input of `site` in layer l for a chunk of a stream, computing only up to that site. The
  // sites before it get the activation rule when `sparse`.
  torch::Tensor capture(int l, const torch::Tensor& h, const LayerWeights& lw, Site site, bool sparse) const {
    torch::Tensor captured;  // [b, T, k] f32
    const InputHook hook = [&](int layer, Site s, const torch::Tensor& x) -> torch::Tensor {
      if (s == site) {
        captured = x;
        throw StopForward{};
      }
      return sparse ? applyAct(layer, s, x) : x;
    };
    try {
      m_runner.layer(l, h, hook, &lw);
    } catch (const StopForward&) {
    }
    DUO_ASSERT(captured.defined());
    return captured;
  }

  void report(const std::string& detail) { reportProgress(m_progress, {"calibrate", detail, m_done, m_total}); }

  template <typename Fn>
  void forChunks(const Fn& fn) {
    const int64_t n = m_hD.size(0);
    const int64_t bw = m_opts.batchWindows;
    for (int64_t i0 = 0; i0 < n; i0 += bw) fn(i0, std::min(bw, n - i0));
  }

  void runLayer(int l) {
    report(where(l, "load"));
    const LayerWeights Ld = layerToDevice(m_source.layer(l), m_opts.device);  // dense f32, read only
    LayerWeights Lp = Ld;  // working copy: projections are replaced (never written in place) as they are pruned
    const bool sparse = sparseStream(m_opts.method);
    for (const Group& g : kGroups) runGroup(l, g, Ld, Lp, sparse);

    // Push both streams through the finished layer (in place, chunk by chunk: chunks are independent).
    const InputHook actHook = [this](int layer, Site s, const torch::Tensor& x) { return applyAct(layer, s, x); };
    forChunks([&](int64_t i0, int64_t b) {
      report(where(l, "forward"));
      m_hD.narrow(0, i0, b).copy_(m_runner.layer(l, chunk(m_hD, i0, b), {}, &Ld));
      m_hP.narrow(0, i0, b).copy_(m_runner.layer(l, chunk(m_hP, i0, b), sparse ? actHook : InputHook{}, &Lp));
      if (m_hE.defined()) m_hE.narrow(0, i0, b).copy_(m_runner.layer(l, chunk(m_hE, i0, b), actHook, &Lp));
    });
    m_res.secondsForward += m_clock.lap();
    if (m_onLayer) m_onLayer(LayerDone{l, Ld, Lp, m_res.thresholds});
  }

  void runGroup(int l, const Group& g, const LayerWeights& Ld, LayerWeights& Lp, bool sparse) {
    const Method method = m_opts.method;
    const double pa = m_opts.sparsity.siteAct(l, g.site);
    const std::string siteWhere = where(l, std::string(siteName(g.site)) + " inputs");
    double groupSeconds = 0;

    // Threshold rule: calibrate this site's threshold first.
    if (m_opts.sparsity.actRule == ActRule::Threshold && pa > 0.0) {
      ThresholdCalibrator cal;
      forChunks([&](int64_t i0, int64_t b) {
        report(siteWhere);
        // On the exported model's inputs: the baselines' eval stream, else the pruned stream.
        const auto x = m_hE.defined() ? capture(l, chunk(m_hE, i0, b), Lp, g.site, true)
                                      : capture(l, chunk(m_hP, i0, b), Lp, g.site, sparse);
        const double tf = m_clock.lap();
        m_res.secondsForward += tf;
        groupSeconds += tf;
        cal.addBatch(x);
        const double ts = m_clock.lap();
        m_res.secondsStats += ts;
        groupSeconds += ts;
      });
      m_res.thresholds.set(l, g.site, cal.threshold(pa));
    }

    // Statistics. evalStats sees what the exported model computes with (S(X) vs Xd) and gives every
    // record's errors; the OBS methods that calibrate on it solve with it too. Baselines calibrating
    // on dense activations while p_a > 0 get their own statistics of X.
    const int64_t k = Ld.w(g.projs.front()).size(1);
    StatsOptions so;
    so.device = m_opts.device;
    InputStats evalStats(k, so);
    std::optional<InputStats> solverStats;
    if ((method == Method::SparseGpt || method == Method::Wanda) && m_hE.defined()) {
      StatsOptions plain = so;
      plain.trackResidual = false;
      solverStats.emplace(k, plain);
    }
    int64_t zeros = 0, entries = 0;
    forChunks([&](int64_t i0, int64_t b) {
      report(siteWhere);
      const auto xd = capture(l, chunk(m_hD, i0, b), Ld, g.site, false);  // [b, T, k] dense stream
      const auto x = capture(l, chunk(m_hP, i0, b), Lp, g.site, sparse);   // [b, T, k] pruned stream
      // The exported model's input here: the pruned stream itself, or the baselines' eval stream.
      const auto xe = m_hE.defined() ? capture(l, chunk(m_hE, i0, b), Lp, g.site, true) : x;  // [b, T, k]
      const double tf = m_clock.lap();
      m_res.secondsForward += tf;
      groupSeconds += tf;
      const auto xs = pa > 0.0 ? applyAct(l, g.site, xe) : xe;               // [b, T, k] S(X)
      evalStats.addBatch(xs, xd);
      if (solverStats) solverStats->addBatch(x);
      zeros += xs.eq(0).sum().item<int64_t>();
      entries += xs.numel();
      const double ts = m_clock.lap();
      m_res.secondsStats += ts;
      groupSeconds += ts;
    });
    const double actAchieved = entries > 0 ? double(zeros) / double(entries) : 0.0;
    const InputStats& sstats = solverStats ? *solverStats : evalStats;

    // Solve: one factorisation per group for the OBS methods.
    ObsOptions obs = m_opts.obs;
    obs.useResidual = method == Method::DuoGpt;
    ObsFactor factor;
    double factorSeconds = 0;
    if (isObs(method)) {
      try {
        factor = factorObs(sstats, obs);
      } catch (...) {
        rethrowWithContext(siteWhere);
      }
      factorSeconds = m_clock.lap();
      m_res.secondsSolve += factorSeconds;
    }
    for (Proj p : g.projs) {
      const std::string projWhere = where(l, projName(p));
      const torch::Tensor W = Ld.w(p);  // [n, k] original weight on the device
      const MaskSpec spec{m_opts.sparsity.at(l, p).weight, m_opts.sparsity.nm};
      PrunedWeight r;
      ProjRecord rec;
      try {
        switch (method) {
          case Method::DuoGpt:
          case Method::SparseGpt:
          case Method::SparseGptSparseIn: r = pruneObs(W, factor, obs, spec); break;
          case Method::Wanda: r = pruneWanda(W, sstats, spec); break;
          case Method::Magnitude: r = pruneMagnitude(W, spec); break;
          default: r = {W, W.ne(0)}; break;  // Teal: dense weights
        }
        rec.relError = relativeOutputError(evalStats, W, r.weight);
        rec.relErrorMaskOnly = method == Method::Teal ? rec.relError : relativeOutputError(evalStats, W, W * r.keep);
      } catch (...) {
        rethrowWithContext(projWhere);
      }
      Lp.w(p) = r.weight.contiguous();
      const double solveSeconds = m_clock.lap();
      m_res.secondsSolve += solveSeconds;
      rec.layer = l;
      rec.proj = p;
      rec.weightSparsity = zeroFraction(r.weight);
      rec.actSparsity = actAchieved;
      rec.seconds = (groupSeconds + factorSeconds) / double(g.projs.size()) + solveSeconds;
      m_res.records.push_back(rec);
      ++m_done;
      if (m_onRecord) m_onRecord(rec);
      report(projWhere);
    }
  }

  WeightSource& m_source;
  const CalibrateOptions& m_opts;
  const ProgressFn& m_progress;
  const RecordFn& m_onRecord;
  const LayerFn& m_onLayer;
  LlamaModel m_runner;   // computes layers with the weights given per call, on the device
  Stopwatch m_clock;
  torch::Device m_streamDevice;
  CalibrationResult m_res;
  torch::Tensor m_hD;    // [N, T, d] stream dtype, dense stream
  torch::Tensor m_hP;    // [N, T, d] stream dtype, pruned stream (the method's calibration inputs)
  torch::Tensor m_hE;    // [N, T, d] stream dtype, baselines only: pruned weights with the activation rule on
  int64_t m_done = 0, m_total = 0;
};

}  // namespace

CalibrationResult calibrate(WeightSource& source, const torch::Tensor& windows, const CalibrateOptions& opts,
                            const ProgressFn& progress, const RecordFn& onRecord, const LayerFn& onLayer) {
  DUO_CHECK(windows.dim() == 2 && windows.size(0) > 0 && windows.size(1) > 0 &&
                (windows.scalar_type() == torch::kInt64 || windows.scalar_type() == torch::kInt32),
            "calibration: expected token windows [nsamples, seqlen] i64, got ", windows.sizes(), " ",
            windows.scalar_type());
  DUO_CHECK(opts.batchWindows >= 1, "calibration: batchWindows expected >= 1, got ", opts.batchWindows);
  DUO_CHECK(opts.streamDtype == torch::kFloat32 || opts.streamDtype == torch::kBFloat16,
            "calibration: stream dtype expected f32 or bf16, got ", opts.streamDtype);
  const int L = static_cast<int>(source.config().numLayers);
  opts.sparsity.validate("calibration sparsity config", L);
  if (opts.method == Method::Dense) return {};
  torch::NoGradGuard noGrad;
  Calibrator c(source, opts, progress, onRecord, onLayer);
  return c.run(windows.to(torch::kInt64));
}

CalibrationResult calibrate(const LlamaWeights& dense, const torch::Tensor& windows, const CalibrateOptions& opts,
                            const ProgressFn& progress, const RecordFn& onRecord) {
  const int L = static_cast<int>(dense.config.numLayers);
  DUO_CHECK(static_cast<int>(dense.layers.size()) == L, "calibration: config says ", L, " layers, weights have ",
            dense.layers.size());
  auto source = memoryWeightSource(dense);
  LlamaWeights pruned = dense;  // shallow: projections are replaced layer by layer
  CalibrationResult r = calibrate(*source, windows, opts, progress, onRecord, [&](const LayerDone& done) {
    auto& out = pruned.layers[static_cast<size_t>(done.index)];
    const auto& in = dense.layers[static_cast<size_t>(done.index)];
    for (int p = 0; p < kNumProj; ++p)
      out.proj[static_cast<size_t>(p)] = done.pruned.proj[static_cast<size_t>(p)].to(in.proj[static_cast<size_t>(p)].device());
  });
  r.weights = std::move(pruned);
  return r;
}

}  // namespace duo
