// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/calibrate.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>

#include "core/common/bf16_gemm.h"
#include "core/common/error.h"
#include "core/model/layerwise.h"
#include "core/model/llama_model.h"
#include "core/prune/act_hook.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/input_stats.h"
#include "core/prune/int8_grid.h"
#include "core/prune/magnitude.h"
#include "core/prune/wanda.h"
#include "core/prune/window_chunks.h"

namespace duo {

namespace {

// Thrown by a capture hook (recompute mode) once its site's input is in hand.
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

// About how many calibration tokens a record's mask-only error is measured on (all of them in
// smaller runs): every stride-th position of each window, the offset turning from window to window.
constexpr int64_t kMaskOnlyTokens = 1024;

// Rows `idx` of x [b, T, w] taken as b * T tokens: [len(idx), w].
torch::Tensor tokenRows(const torch::Tensor& x, const torch::Tensor& idx) {
  return x.reshape({-1, x.size(-1)}).index_select(0, idx);
}

// K sums over n elements in f64: part(i0, i1) gives the K sums of elements [i0, i1), parts of 64K
// elements run on the threads, and the parts' sums are added in part order (the result does not
// depend on the threads).
template <size_t K, typename Part>
std::array<double, K> sumOverParts(int64_t n, const Part& part) {
  constexpr int64_t kGrain = 1 << 16;
  const int64_t parts = (n + kGrain - 1) / kGrain;
  std::vector<std::array<double, K>> partial(static_cast<size_t>(parts));
  at::parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) partial[static_cast<size_t>(p)] = part(p * kGrain, std::min(n, (p + 1) * kGrain));
  });
  std::array<double, K> sum{};
  for (const auto& s : partial)
    for (size_t k = 0; k < K; ++k) sum[k] += s[k];
  return sum;
}

// The CPU f32 contiguous case, where the sums run over raw floats without temporaries.
bool rawF32(const torch::Tensor& a, const torch::Tensor& b) {
  return a.device().is_cpu() && a.scalar_type() == torch::kFloat32 && a.is_contiguous() &&
         (!b.defined() || (b.device().is_cpu() && b.scalar_type() == torch::kFloat32 && b.is_contiguous() &&
                           b.sizes() == a.sizes()));
}

// ||a - b||^2 (||a||^2 when b is undefined) in f64, one pass over the operands: on the CPU in f32
// without temporaries (the output errors run over every calibration token of every projection).
double squaredDistance(const torch::Tensor& a, const torch::Tensor& b = {}) {
  if (!rawF32(a, b)) return (b.defined() ? a - b : a).square().sum(torch::kFloat64).item<double>();
  const float* x = a.data_ptr<float>();
  const float* y = b.defined() ? b.data_ptr<float>() : nullptr;
  return sumOverParts<1>(a.numel(), [&](int64_t i0, int64_t i1) {
    double acc = 0.0;
    if (y) {
#pragma omp simd reduction(+ : acc)
      for (int64_t i = i0; i < i1; ++i) {
        const double d = double(x[i]) - double(y[i]);
        acc += d * d;
      }
    } else {
#pragma omp simd reduction(+ : acc)
      for (int64_t i = i0; i < i1; ++i) acc += double(x[i]) * double(x[i]);
    }
    return std::array<double, 1>{acc};
  })[0];
}

// {||b||^2, ||a - b||^2} in f64 from one pass over a and b (as two squaredDistance calls would give
// them): the records' reference and error read the dense output once instead of twice.
std::pair<double, double> squaredNormAndDistance(const torch::Tensor& a, const torch::Tensor& b) {
  if (!rawF32(a, b)) return {squaredDistance(b), squaredDistance(a, b)};
  const float* x = a.data_ptr<float>();
  const float* y = b.data_ptr<float>();
  const auto sums = sumOverParts<2>(a.numel(), [&](int64_t i0, int64_t i1) {
    double norm = 0.0, dist = 0.0;
#pragma omp simd reduction(+ : norm, dist)
    for (int64_t i = i0; i < i1; ++i) {
      const double yi = double(y[i]);
      const double d = double(x[i]) - yi;
      norm += yi * yi;
      dist += d * d;
    }
    return std::array<double, 2>{norm, dist};
  });
  return {sums[0], sums[1]};
}

std::string where(int layer, const std::string& what) { return "layer " + std::to_string(layer) + " " + what; }

class Calibrator : WindowChunks {
 public:
  Calibrator(WeightSource& source, const CalibrateOptions& opts, const ProgressFn& progress,
             const RecordFn& onRecord, const LayerFn& onLayer)
      : WindowChunks(opts.dist, opts.batchWindows),
        m_source(source),
        m_opts(opts),
        m_progress(progress),
        m_onRecord(onRecord),
        m_onLayer(onLayer),
        m_runner(configOnly(source.config()), opts.device),
        m_clock(opts.device),
        m_streamDevice(opts.streamDevice.value_or(opts.device)) {}

  // All ranks' windows [N, T] in; this rank calibrates on its share of the chunks.
  CalibrationResult run(const torch::Tensor& allWindows) {
    const ChunkShare share = shareWindows(allWindows.size(0), "calibration");
    m_winOffset = share.begin;
    m_allWindows = allWindows.size(0);
    const torch::Tensor windows = share.of(allWindows);
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
  // One stream's state inside the current layer: every window's input at the current site (raw,
  // before the activation rule) and, from the O site's output on, the residual h1 = h + attention.
  // Kept for all windows so that no group recomputes the layer's prefix.
  struct LayerStream {
    torch::Tensor* h;        // [N, T, d] stream dtype: the layer's input, its output when the layer is done
    const LayerWeights* w;   // the weights this stream computes with
    bool act;                // the activation rule applies to its site inputs
    torch::Tensor x;         // [N, T, k] f32 on the stream device: the current site's input
    torch::Tensor h1;        // [N, T, d] f32 on the stream device: the residual after attention
    const LayerWeights* w16 = nullptr;  // computeDtype bf16: the projections of *w in bf16
  };

  bool bf16() const { return m_opts.computeDtype == torch::kBFloat16; }

  // The kept tensors of keepSiteInputs mode, [N, T, width] f32 on the stream device, in buffers that
  // live for the whole run: allocated fresh per group and layer they were faulted in (and zeroed by
  // the kernel) every time, 11% of the CPU time of a DuoGPT run on SmolLM2 at 64 x 256 windows.
  enum class Kept { Site0, Site1, Residual };
  torch::Tensor keptBuffer(size_t stream, Kept which, int64_t width) {
    if (m_kept.size() <= stream) m_kept.resize(stream + 1);
    torch::Tensor& flat = m_kept[stream][static_cast<size_t>(which)];
    const int64_t numel = m_hD.size(0) * m_hD.size(1) * width;
    if (!flat.defined() || flat.numel() < numel)
      flat = torch::empty({numel}, torch::TensorOptions().device(m_streamDevice).dtype(torch::kFloat32));
    return flat.narrow(0, 0, numel).view({m_hD.size(0), m_hD.size(1), width});
  }

  // The projections of `lw` in bf16 (the rest of the layer is not used through this copy).
  static LayerWeights projectionsBf16(const LayerWeights& lw) {
    LayerWeights out;
    const bool emulated = bf16ProductsEmulated(lw.proj[0].device());
    for (int p = 0; p < kNumProj; ++p) out.proj[static_cast<size_t>(p)] = bf16Operand(lw.proj[static_cast<size_t>(p)], emulated);
    return out;
  }

  // A stream's projection p of x [b, T, k] f32: in the compute dtype, accumulated and returned in
  // f32 (the bias, where the model has one, added in f32). x16: x in bf16 when the stream computes
  // in bf16 (converted once for the projections that share it).
  torch::Tensor project(const LayerStream& st, int l, Proj p, const torch::Tensor& x, const torch::Tensor& x16) const {
    if (!st.w16) return m_runner.projection(l, *st.w, p, x);
    torch::Tensor y = linearF32(x16, st.w16->w(p));
    const torch::Tensor bias = st.w->bias(p);
    return bias.defined() ? y.add_(bias) : y;
  }

  torch::Tensor applyAct(int layer, Site site, const torch::Tensor& x) const {
    return applyActivationRule(m_opts.sparsity, m_res.thresholds, layer, site, x);
  }

  // Rows [i0, i0 + b) of a stream as the compute device's f32 [b, T, d]: a view when the stream is
  // there in f32 already.
  torch::Tensor chunk(const torch::Tensor& stream, int64_t i0, int64_t b) const {
    return stream.narrow(0, i0, b).to(m_opts.device, torch::kFloat32);
  }

  // Recompute mode: the input of `site` in layer l for a chunk of a stream, computing only up to
  // that site (the sites before it get the activation rule when `act`).
  torch::Tensor capture(int l, const torch::Tensor& h, const LayerWeights& lw, Site site, bool act) const {
    torch::Tensor captured;  // [b, T, k] f32
    const InputHook hook = [&](int layer, Site s, const torch::Tensor& x) -> torch::Tensor {
      if (s == site) {
        captured = x;
        throw StopForward{};
      }
      return act ? applyAct(layer, s, x) : x;
    };
    try {
      m_runner.layer(l, h, hook, &lw);
    } catch (const StopForward&) {
    }
    DUO_ASSERT(captured.defined());
    return captured;
  }

  // A chunk of a stream's input at the site of group g: kept, or recomputed from the layer input.
  torch::Tensor siteInput(const LayerStream& st, int l, Site site, int64_t i0, int64_t b) const {
    if (m_opts.keepSiteInputs) return chunk(st.x, i0, b);
    return capture(l, chunk(*st.h, i0, b), *st.w, site, st.act);
  }

  void report(const std::string& detail) { reportProgress(m_progress, {"calibrate", detail, m_done, m_total}); }

  template <typename Fn>
  void forChunks(const Fn& fn) {
    const int64_t n = m_hD.size(0);
    for (int64_t i0 = 0; i0 < n; i0 += m_bw) fn(i0, std::min(m_bw, n - i0));
  }

  // The rank that solves each projection of group g in layer l: the largest first, each to the rank
  // with the fewest rows so far (ties from a rank that rotates with the layer and the group, so that
  // the single-projection groups, o and down, alternate between ranks).
  std::vector<int> owners(int l, int groupIndex, const Group& g, const LayerWeights& Ld) const {
    const int W = m_dist.size();
    std::vector<int> own(g.projs.size(), 0);
    std::vector<int64_t> load(static_cast<size_t>(W), 0);
    std::vector<size_t> order(g.projs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return Ld.w(g.projs[a]).size(0) > Ld.w(g.projs[b]).size(0);
    });
    const int rotate = (l + groupIndex) % W;
    for (const size_t i : order) {
      int best = -1;
      for (int j = 0; j < W; ++j) {
        const int r = (rotate + j) % W;
        if (best < 0 || load[static_cast<size_t>(r)] < load[static_cast<size_t>(best)]) best = r;
      }
      own[i] = best;
      load[static_cast<size_t>(best)] += Ld.w(g.projs[i]).size(0);
    }
    return own;
  }

  // The stream whose site inputs the exported model computes with: the baselines' third stream, else
  // the pruned stream. Records' errors and the achieved activation sparsity are measured on it.
  LayerStream& exported(std::vector<LayerStream>& streams) const { return streams.back(); }

  void runLayer(int l) {
    report(where(l, "load"));
    const LayerWeights Ld = layerToDevice(m_source.layer(l), m_opts.device);  // dense f32, read only
    LayerWeights Lp = Ld;  // working copy: projections are replaced (never written in place) as they are pruned
    // bf16 products: the dense projections once, the working copy's as they are replaced.
    const LayerWeights Ld16 = bf16() ? projectionsBf16(Ld) : LayerWeights{};
    LayerWeights Lp16 = Ld16;
    const LayerWeights* d16 = bf16() ? &Ld16 : nullptr;
    LayerWeights* p16 = bf16() ? &Lp16 : nullptr;
    std::vector<LayerStream> streams{{&m_hD, &Ld, false, {}, {}, d16}, {&m_hP, &Lp, sparseStream(m_opts.method), {}, {}, p16}};
    if (m_hE.defined()) streams.push_back({&m_hE, &Lp, true, {}, {}, p16});
    report(where(l, "forward"));
    if (m_opts.keepSiteInputs) {
      for (size_t s = 0; s < streams.size(); ++s) {
        LayerStream& st = streams[s];
        st.x = keptBuffer(s, Kept::Site0, m_hD.size(2));
        forChunks([&](int64_t i0, int64_t b) {
          st.x.narrow(0, i0, b).copy_(m_runner.attnInput(*st.w, chunk(*st.h, i0, b)));
        });
      }
    }
    m_res.secondsForward += m_clock.lap();
    for (int gi = 0; gi < 4; ++gi) runGroup(l, gi, kGroups[gi], Ld, Lp, p16, streams);
    if (m_onLayer) m_onLayer(LayerDone{l, Ld, Lp, m_res.thresholds});
  }

  // Lp16: the working copy's projections in bf16 (bf16 products), else null.
  void runGroup(int l, int groupIndex, const Group& g, const LayerWeights& Ld, LayerWeights& Lp, LayerWeights* Lp16,
                std::vector<LayerStream>& streams) {
    const Method method = m_opts.method;
    const double pa = m_opts.sparsity.siteAct(l, g.site);
    const std::string siteWhere = where(l, std::string(siteName(g.site)) + " inputs");
    LayerStream& dense = streams.front();
    LayerStream& pruned = streams[1];
    LayerStream& exp = exported(streams);
    double groupSeconds = 0;
    auto lap = [&](double& bucket) {
      const double t = m_clock.lap();
      bucket += t;
      groupSeconds += t;
    };

    // Threshold rule: calibrate this site's threshold first, on the exported model's inputs.
    if (m_opts.sparsity.actRule == ActRule::Threshold && pa > 0.0) {
      ThresholdCalibrator cal;
      forChunks([&](int64_t i0, int64_t b) {
        report(siteWhere);
        cal.addBatch(siteInput(exp, l, g.site, i0, b));
      });
      cal.allReduce(m_dist);
      m_res.thresholds.set(l, g.site, cal.threshold(pa));
      lap(m_res.secondsStats);
    }

    // Statistics: DuoGPT sees S(X) against the dense stream; SparseGPT on sparse inputs sees S(X);
    // SparseGPT and Wanda see the pruned stream's dense activations (Wanda only diag(H)).
    const int64_t k = Ld.w(g.projs.front()).size(1);
    const bool wantStats = isObs(method) || method == Method::Wanda;
    StatsOptions so;
    so.device = m_opts.device;
    so.trackResidual = method == Method::DuoGpt;
    so.trackError = false;
    so.upperM = true;  // the solver reads M on and above its diagonal only
    so.diagonalOnly = method == Method::Wanda;
    so.gemmDtype = m_opts.computeDtype;
    InputStats stats(k, so);
    int64_t zeros = 0, entries = 0;
    // The exported stream only ever uses its site inputs through the activation rule: once the
    // statistics have read a chunk, the kept inputs are replaced by S(X), and the forward below does
    // not apply the rule a second time (the rule is a per-token selection, a sixth of DuoGPT's time).
    const bool sparsifyOnce = m_opts.keepSiteInputs && exp.act && pa > 0.0 && m_streamDevice == m_opts.device;
    forChunks([&](int64_t i0, int64_t b) {
      report(siteWhere);
      const auto xe = siteInput(exp, l, g.site, i0, b);         // [b, T, k]
      const auto xs = pa > 0.0 ? applyAct(l, g.site, xe) : xe;  // [b, T, k] S(X)
      if (method == Method::DuoGpt) stats.addBatch(xs, siteInput(dense, l, g.site, i0, b));
      else if (method == Method::SparseGptSparseIn) stats.addBatch(xs);
      else if (wantStats) stats.addBatch(&pruned == &exp ? xe : siteInput(pruned, l, g.site, i0, b));
      zeros += zeroCount(xs);  // one vectorised pass, no mask tensor
      entries += xs.numel();
      if (sparsifyOnce) exp.x.narrow(0, i0, b).copy_(xs);
    });
    if (wantStats) stats.allReduce(m_dist);
    zeros = m_dist.sum(zeros);
    entries = m_dist.sum(entries);
    lap(m_res.secondsStats);
    const double actAchieved = entries > 0 ? double(zeros) / double(entries) : 0.0;

    // Solve: one factorisation per group for the OBS methods (on the ranks that solve one of its
    // projections).
    const int me = m_dist.rank();
    const std::vector<int> owner = owners(l, groupIndex, g, Ld);
    bool mine = false;
    for (const int o : owner) mine = mine || o == me;
    ObsOptions obs = m_opts.obs;
    if (isObs(method) && !m_opts.device.is_cuda()) {
      if (!m_res.solvePhases) m_res.solvePhases.emplace();
      obs.profile = &*m_res.solvePhases;
    }
    obs.useResidual = method == Method::DuoGpt;
    using Int8Values = CalibrateOptions::Int8Values;
    obs.int8Values = m_opts.int8Values == Int8Values::Solve && isObs(method);
    const bool roundAfter = m_opts.int8Values != Int8Values::Off && !obs.int8Values;
    ObsFactor factor;
    if (isObs(method) && mine) {
      try {
        factor = factorObs(std::move(stats), obs);
      } catch (...) {
        rethrowWithContext(siteWhere);
      }
    }
    const size_t np = g.projs.size();
    std::vector<torch::Tensor> masked(np);    // OBS methods: W o keep, for the mask-only error
    std::vector<torch::Tensor> masked16(np);  // the same in bf16 (bf16 products)
    std::vector<double> solveSeconds(np, 0.0);
    lap(m_res.secondsSolve);
    // Each rank solves its projections of the group first (in parallel with the others), then the
    // results are broadcast from their owners; the cheap methods run on every rank.
    const bool shared = isObs(method) && m_dist.size() > 1;
    std::vector<PrunedWeight> solved(np);
    for (size_t i = 0; i < np; ++i) {
      const Proj p = g.projs[i];
      const torch::Tensor W = Ld.w(p);  // [n, k] original weight on the device
      const MaskSpec spec{m_opts.sparsity.at(l, p).weight, m_opts.sparsity.nm};
      PrunedWeight& r = solved[i];
      if (shared && owner[i] != me) {  // solved by another rank: its weights and mask arrive below
        r.weight = torch::empty_like(W);
        r.keep = torch::empty(W.sizes(), W.options().dtype(torch::kBool));
      } else try {
        switch (method) {
          case Method::DuoGpt:
          case Method::SparseGpt:
          case Method::SparseGptSparseIn: r = pruneObs(W, factor, obs, spec); break;
          case Method::Wanda: r = pruneWanda(W, stats, spec); break;
          case Method::Magnitude: r = pruneMagnitude(W, spec); break;
          default: r = {W, W.ne(0)}; break;  // Teal: dense weights
        }
      } catch (...) {
        rethrowWithContext(where(l, projName(p)));
      }
      solveSeconds[i] = m_clock.lap();
    }
    for (size_t i = 0; i < np; ++i) {
      const Proj p = g.projs[i];
      const torch::Tensor W = Ld.w(p);
      PrunedWeight& r = solved[i];
      if (shared) {
        auto keepBytes = r.keep.to(torch::kUInt8);  // c10d has no bool reductions: bytes
        std::vector<torch::Tensor> ts{r.weight, keepBytes};
        m_dist.broadcast(ts, owner[i]);
        r.weight = ts[0];
        r.keep = ts[1].to(torch::kBool);
      }
      if (isObs(method)) masked[i] = W * r.keep;
      if (isObs(method) && Lp16) masked16[i] = bf16Operand(masked[i], bf16ProductsEmulated(W.device()));
      if (roundAfter) r.weight = roundToInt8Grid(r.weight);
      Lp.w(p) = r.weight.contiguous();
      if (Lp16) Lp16->w(p) = bf16Operand(Lp.w(p), bf16ProductsEmulated(Lp.w(p).device()));
      solveSeconds[i] += m_clock.lap();
      m_res.secondsSolve += solveSeconds[i];
    }
    solved.clear();
    stats.free();
    factor = ObsFactor{};

    // Every stream moves on to the next site through the group's projections (the Down group ends
    // the layer). The output errors come from these very outputs: ||W' S(Xe) - W Xd||^2 against
    // ||W Xd||^2 over all calibration tokens. The mask-only error needs one more product, with
    // W o keep, so it is taken on a sample of about kMaskOnlyTokens tokens spread over all ranks'
    // windows, as a ratio to the update's error on the same tokens: relError x numMask / numSample.
    // The two errors rise and fall together from token to token (a few tokens carry most of both),
    // so their ratio varies far less over samples than the mask-only error itself.
    std::vector<double> num(np, 0.0), ref(np, 0.0), numMask(np, 0.0), numSample(np, 0.0), refMask(np, 0.0);
    const int64_t T = m_hD.size(1);
    const int64_t maskStride = std::max<int64_t>(1, m_allWindows * T / kMaskOnlyTokens);
    std::vector<torch::Tensor> next(streams.size());
    const bool keep = m_opts.keepSiteInputs;
    for (size_t s = 0; keep && s < streams.size(); ++s) {
      const int64_t width = g.site == Site::Qkv   ? m_source.config().qDim()
                            : g.site == Site::GateUp ? m_source.config().intermediateSize
                                                     : m_source.config().hiddenSize;
      // Groups alternate between a stream's two site buffers (Qkv and O sites in 0, O's input and
      // Down's in 1: the input read and the next one written are never the same buffer).
      if (g.site != Site::Down) next[s] = keptBuffer(s, g.site == Site::O ? Kept::Site0 : Kept::Site1, width);
      if (g.site == Site::O) streams[s].h1 = keptBuffer(s, Kept::Residual, m_hD.size(2));
    }
    forChunks([&](int64_t i0, int64_t b) {
      report(where(l, "forward"));
      // Tokens of this chunk in the mask-only sample ([b * T] order): position p of global window gw
      // when (gw + p) % stride == 0. Every position is sampled in the same share of the windows, so
      // positions that weigh more in the sums (the first token's large activations) keep their share.
      std::vector<int64_t> sample;
      for (int64_t j = 0; j < b; ++j) {
        const int64_t gw = m_winOffset + i0 + j;
        for (int64_t p = (maskStride - gw % maskStride) % maskStride; p < T; p += maskStride) sample.push_back(j * T + p);
      }
      const bool mb = !sample.empty();
      const torch::Tensor sampleIdx =
          mb ? torch::tensor(sample, torch::kInt64).to(m_opts.device) : torch::Tensor();
      std::vector<torch::Tensor> yd(np);  // dense outputs, without bias
      for (size_t s = 0; s < streams.size(); ++s) {
        LayerStream& st = streams[s];
        const bool measured = s == 0 || &st == &exp;  // its outputs enter the records' errors
        if (!keep && !measured && g.site != Site::Down) continue;  // recompute mode: nothing to carry
        const torch::Tensor x = siteInput(st, l, g.site, i0, b);
        const bool sparsified = sparsifyOnce && &st == &exp;  // its kept inputs are S(X) already
        const torch::Tensor xin = st.act && pa > 0.0 && !sparsified ? applyAct(l, g.site, x) : x;
        const torch::Tensor xin16 = st.w16 ? bf16Operand(xin, bf16ProductsEmulated(xin.device())) : torch::Tensor();
        std::vector<torch::Tensor> y(np);
        for (size_t i = 0; i < np; ++i) {
          const Proj p = g.projs[i];
          y[i] = project(st, l, p, xin, xin16);
          if (!measured) continue;
          const torch::Tensor bias = st.w->bias(p);
          const torch::Tensor wx = bias.defined() ? y[i] - bias : y[i];  // W x without the bias
          if (s == 0) {
            yd[i] = wx;  // its square sum enters ref[i] with the exported stream's error below
            if (mb) refMask[i] += squaredDistance(tokenRows(yd[i], sampleIdx));
          } else {
            const auto [norm, dist] = squaredNormAndDistance(wx, yd[i]);
            ref[i] += norm;
            num[i] += dist;
            if (mb && masked[i].defined()) {
              const torch::Tensor ydS = tokenRows(yd[i], sampleIdx);
              // In the stream's compute dtype, as its outputs were.
              const torch::Tensor maskedY = st.w16 ? linearF32(tokenRows(xin16, sampleIdx), masked16[i])
                                                   : torch::linear(tokenRows(xin, sampleIdx), masked[i]);
              numMask[i] += squaredDistance(maskedY, ydS);
              numSample[i] += squaredDistance(tokenRows(wx, sampleIdx), ydS);
            }
          }
        }
        if (!keep) {
          // Recompute mode: the stream holds the layer's input until the last group has its
          // outputs, then the whole layer (act rule on where the stream has it) replaces it.
          if (g.site == Site::Down) {
            const InputHook actHook = [this](int layer, Site s2, const torch::Tensor& v) { return applyAct(layer, s2, v); };
            st.h->narrow(0, i0, b).copy_(m_runner.layer(l, chunk(*st.h, i0, b), st.act ? actHook : InputHook{}, st.w));
          }
          continue;
        }
        // Where the kept tensors live on the compute device, the residual and SwiGLU are written
        // into them directly (no temporary and no copy: a pass over the chunk each, same values).
        const bool direct = m_streamDevice == m_opts.device;
        torch::Tensor out;  // the next site's input, or the layer's output
        switch (g.site) {
          case Site::Qkv: out = m_runner.attend(l, y[0], y[1], y[2], st.w16 != nullptr); break;
          case Site::O: {
            torch::Tensor h1 = st.h1.narrow(0, i0, b);
            if (direct) torch::add_out(h1, chunk(*st.h, i0, b), y[0]);
            else h1.copy_(chunk(*st.h, i0, b) + y[0]);
            out = m_runner.mlpInput(*st.w, direct ? h1 : chunk(st.h1, i0, b));
            break;
          }
          case Site::GateUp:
            if (direct) {
              torch::Tensor dst = next[s].narrow(0, i0, b);
              torch::silu_out(dst, y[0]).mul_(y[1]);  // LlamaModel::swiglu, in place
              continue;
            }
            out = LlamaModel::swiglu(y[0], y[1]);
            break;
          case Site::Down: out = chunk(st.h1, i0, b) + y[0]; break;
        }
        if (g.site == Site::Down) st.h->narrow(0, i0, b).copy_(out);
        else next[s].narrow(0, i0, b).copy_(out);
      }
    });
    for (size_t s = 0; keep && s < streams.size(); ++s) {
      streams[s].x = next[s];
      if (g.site == Site::Down) streams[s].h1 = torch::Tensor();
    }
    if (m_dist.size() > 1) {  // the errors' sums over every rank's windows
      std::vector<double> sums;
      for (const auto* v : {&num, &ref, &numMask, &numSample, &refMask}) sums.insert(sums.end(), v->begin(), v->end());
      auto t = torch::tensor(sums, torch::kFloat64);
      m_dist.allReduceSum(t);
      const double* d = t.data_ptr<double>();
      for (auto* v : {&num, &ref, &numMask, &numSample, &refMask})
        for (double& x : *v) x = *d++;
    }
    lap(m_res.secondsForward);

    for (size_t i = 0; i < np; ++i) {
      const Proj p = g.projs[i];
      ProjRecord rec;
      rec.layer = l;
      rec.proj = p;
      try {
        DUO_CHECK(ref[i] > 0.0, "the dense output is zero on the calibration data");
        rec.relError = num[i] / ref[i];
        if (!masked[i].defined()) rec.relErrorMaskOnly = rec.relError;
        else if (numSample[i] > 0.0) rec.relErrorMaskOnly = rec.relError * (numMask[i] / numSample[i]);
        else if (refMask[i] > 0.0) rec.relErrorMaskOnly = numMask[i] / refMask[i];  // the update is exact on the sample
        else rec.relErrorMaskOnly = rec.relError;  // the dense output is zero on the sample
      } catch (...) {
        rethrowWithContext(where(l, projName(p)));
      }
      rec.weightSparsity = zeroFraction(Lp.w(p));
      rec.actSparsity = actAchieved;
      rec.seconds = groupSeconds / double(np) + solveSeconds[i];
      m_res.records.push_back(rec);
      ++m_done;
      if (m_onRecord) m_onRecord(rec);
      report(where(l, projName(p)));
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
  int64_t m_winOffset = 0;  // this rank's first window among all ranks' windows
  int64_t m_allWindows = 0;  // all ranks' windows
  CalibrationResult m_res;
  torch::Tensor m_hD;    // [N, T, d] stream dtype, dense stream
  torch::Tensor m_hP;    // [N, T, d] stream dtype, pruned stream (the method's calibration inputs)
  torch::Tensor m_hE;    // [N, T, d] stream dtype, baselines only: pruned weights with the activation rule on
  std::vector<std::array<torch::Tensor, 3>> m_kept;  // per stream: keptBuffer's flat buffers (Kept order)
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
  DUO_CHECK(opts.computeDtype == torch::kFloat32 || opts.computeDtype == torch::kBFloat16,
            "calibration: compute dtype expected f32 or bf16, got ", opts.computeDtype);
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
