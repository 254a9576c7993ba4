// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/bench/calibrate_timing.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "core/bench/machine_probes.h"
#include "core/common/error.h"
#include "core/engine/packed_decode.h"
#include "core/model/model_loader.h"
#include "core/prune/sparsity_config.h"
#include "kernels/matvec.h"

namespace duo::perf {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

CostLine fitCostLine(const std::vector<std::pair<double, double>>& bytesUs) {
  DUO_CHECK(!bytesUs.empty(), "timing fit: no points");
  double mx = 0, my = 0;
  for (const auto& [x, y] : bytesUs) mx += x, my += y;
  mx /= static_cast<double>(bytesUs.size());
  my /= static_cast<double>(bytesUs.size());
  double sxx = 0, sxy = 0;
  for (const auto& [x, y] : bytesUs) sxx += (x - mx) * (x - mx), sxy += (x - mx) * (y - my);
  CostLine line;
  const double spread = std::sqrt(sxx / static_cast<double>(bytesUs.size()));
  if (bytesUs.size() >= 2 && spread > 0.05 * mx && sxy > 0) {
    const double slope = sxy / sxx;  // us per byte
    const double fixed = my - slope * mx;
    if (fixed >= 0) {
      line.fixedUs = fixed;
      line.gbs = 1e-3 / slope;  // bytes/us -> GB/s
      return line;
    }
  }
  // Through the origin: one rate for all points (least squares of y = x / r).
  double sx2 = 0, sxy0 = 0;
  for (const auto& [x, y] : bytesUs) sx2 += x * x, sxy0 += x * y;
  if (sxy0 > 0) {
    line.gbs = 1e-3 * sx2 / sxy0;
  } else {
    line.fixedUs = my;  // no bytes (cannot happen for a real matrix): a constant
  }
  return line;
}

CalibrationResult calibrateTiming(const CalibrateConfig& config, const ProgressFn& progress) {
  const auto start = Clock::now();
  DUO_CHECK(!config.points.empty(), "bench calibrate: no (p_w, p_a) points to time");
  DUO_CHECK(config.steps >= 1 && config.context >= 1, "bench calibrate: steps and context must be >= 1");
  for (const SparsityPoint& p : config.points)
    DUO_CHECK(p.pW >= 0 && p.pW < 1 && p.pA >= 0 && p.pA < 1, "bench calibrate: point (", p.pW, ", ", p.pA,
              ") is outside [0, 1)");
  if (config.threads > 0) omp_set_num_threads(config.threads);
  torch::NoGradGuard noGrad;

  const int kSparse = 3;  // ActSparse, WeightSparse, DualSparse
  const int total = 1 + static_cast<int>(config.points.size()) * kSparse;
  int done = 0;
  reportProgress(progress, Progress{"calibrate", "load", 0, total});
  LoadedModel m = loadModel(config.model, torch::kCPU);
  LlamaModel& model = *m.model;
  const ModelConfig& mc = model.config();
  const int L = static_cast<int>(mc.numLayers);
  const ModelShape shape = shapeOf(mc);
  // The projections' own weights, to restore before each point's mask.
  std::vector<torch::Tensor> original;
  for (int l = 0; l < L; ++l)
    for (int p = 0; p < kNumProj; ++p) original.push_back(model.weights().layers[static_cast<size_t>(l)].w(static_cast<Proj>(p)).clone());
  auto restore = [&] {
    for (int l = 0; l < L; ++l)
      for (int p = 0; p < kNumProj; ++p)
        model.weights().layers[static_cast<size_t>(l)].w(static_cast<Proj>(p)).copy_(original[static_cast<size_t>(l * kNumProj + p)]);
  };

  CalibrationResult out;
  TimingProfile& prof = out.profile;
  prof.threads = omp_get_max_threads();
  prof.values = config.values;
  prof.int8Inputs = config.int8Inputs;
  DUO_CHECK(!config.int8Inputs || config.values == kernels::ValueType::I8, "bench calibrate: int8 inputs need int8 values");
  {
    std::ostringstream os;
    os << "cpu: " << kernels::cpu::isaName(kernels::cpu::activeIsa()) << " kernels, " << prof.threads
       << " threads, in-situ decode of " << m.info.path;
    prof.device = os.str();
  }
  prof.readBandwidthGbs = cpuReadBandwidthGbs();

  // Distinct projection shapes.
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes;
  for (int p = 0; p < kProjections; ++p) {
    const MatVec mv = projectionShape(shape, static_cast<Projection>(p));
    if (std::find(shapes.begin(), shapes.end(), std::make_pair(mv.rows, mv.cols)) == shapes.end())
      shapes.emplace_back(mv.rows, mv.cols);
  }
  std::map<std::pair<std::int64_t, std::int64_t>, std::array<std::vector<std::size_t>, 5>> where;  // -> out.points
  std::vector<double> others, heads;
  std::map<std::int64_t, std::vector<double>> topk;  // width -> per-call microseconds

  // One run: pack with `opt`, prefill, warm up, then `steps` profiled steps.
  auto run = [&](const SparsityConfig& act, const PackedDecoderOptions& opt, double pW, double pA, Kernel kernel,
                 const std::string& what) {
    reportProgress(progress, Progress{"calibrate", what, done, total});
    const PackedDecoder dec(model, act, {}, opt);
    dec.install(model);
    const InputHook hook = dec.hook();
    KvCache cache = model.newCache(1, config.context + config.steps + 8);
    torch::Tensor ids = torch::randint(mc.vocabSize, {1, config.context}, torch::TensorOptions().dtype(torch::kLong));
    torch::Tensor next = model.decodeStep(cache, ids, hook).argmax(-1, true);  // [1, 1] i64
    for (int w = 0; w < 4; ++w) next = dec.step(cache, next).argmax(-1, true);
    prof.otherContext = static_cast<double>(cache.length) + 0.5 * config.steps;
    StepProfile sp;
    dec.setStepProfile(&sp);
    for (int s = 0; s < config.steps; ++s) next = dec.step(cache, next).argmax(-1, true);
    dec.setStepProfile(nullptr);
    PackedDecoder::uninstall(model);
    const double n = static_cast<double>(sp.steps);
    double proj = 0, sites = 0;
    for (double v : sp.projSeconds) proj += v;
    for (double v : sp.siteSeconds) sites += v;
    others.push_back(1e6 * (sp.totalSeconds - proj - sites - sp.headSeconds) / n);
    heads.push_back(1e6 * sp.headSeconds / n);
    for (int l = 0; l < L; ++l)
      for (int s = 0; s < kNumSites; ++s) {
        const double us = 1e6 * sp.siteSeconds[static_cast<size_t>(l * kNumSites + s)] / n;
        if (act.numLayers() > 0 && act.siteAct(l, static_cast<Site>(s)) > 0) {
          const Proj first = s == 0 ? Proj::Q : s == 1 ? Proj::O : s == 2 ? Proj::Gate : Proj::Down;
          topk[dec.projection(l, first).cols].push_back(us);
        }
      }
    // Per shape: the median over its layers' projections of the mean per-call time.
    for (const auto& [rows, cols] : shapes) {
      std::vector<double> us, zeros;
      for (int l = 0; l < L; ++l)
        for (int p = 0; p < kNumProj; ++p) {
          const PackedProjection& pp = dec.projection(l, static_cast<Proj>(p));
          if (pp.rows != rows || pp.cols != cols) continue;
          us.push_back(1e6 * sp.projSeconds[static_cast<size_t>(l * kNumProj + p)] / n);
          zeros.push_back(pp.weightSparsity);
        }
      std::sort(us.begin(), us.end());
      double meanZeros = 0;
      for (double z : zeros) meanZeros += z / static_cast<double>(zeros.size());
      MatVec mv;
      mv.rows = rows;
      mv.cols = cols;
      mv.type = config.values;
      mv.pW = kernel == Kernel::Dense ? 0.0 : meanZeros;
      mv.pA = kernel == Kernel::Dense ? 0.0 : pA;
      where[{rows, cols}][static_cast<size_t>(kernel)].push_back(out.points.size());
      out.points.push_back(
          CalibrationPoint{rows, cols, pW, pA, kernel, kernelBytes(kernel, mv).total(), us[us.size() / 2], 0});
    }
    ++done;
  };

  PackedDecoderOptions denseOpt;
  denseOpt.dense = true;
  denseOpt.values = config.values;
  denseOpt.int8Inputs = config.int8Inputs;
  denseOpt.fuse = false;  // every projection timed as its own call, per shape
  run(SparsityConfig{}, denseOpt, 0, 0, Kernel::Dense, "dense");
  for (const SparsityPoint& pt : config.points) {
    restore();
    applyMagnitudeMask(model, pt.pW);
    const SparsityConfig act = SparsityConfig::uniform(L, pt.pW, pt.pA);
    for (Kernel k : {Kernel::ActSparse, Kernel::WeightSparse, Kernel::DualSparse}) {
      PackedDecoderOptions opt;
      opt.int8Inputs = config.int8Inputs;
      opt.force = k;
      opt.allowNm = false;
      opt.values = config.values;
      opt.fuse = false;
      char what[64];
      std::snprintf(what, sizeof what, "w%.2f a%.2f %s", pt.pW, pt.pA, kernelKey(k));
      run(act, opt, pt.pW, pt.pA, k, what);
    }
  }

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  for (const auto& [rows, cols] : shapes) {
    ShapeTiming st;
    st.rows = rows;
    st.cols = cols;
    for (std::size_t ki = 0; ki < 5; ++ki) {
      const std::vector<std::size_t>& idx = where[{rows, cols}][ki];
      if (idx.empty()) continue;
      std::vector<std::pair<double, double>> data;
      for (std::size_t i : idx) data.emplace_back(out.points[i].bytes, out.points[i].medianUs);
      st.kernels[ki] = fitCostLine(data);
      double worst = 0;
      for (std::size_t i : idx) {
        CalibrationPoint& cp = out.points[i];
        cp.fittedUs = 1e6 * st.kernels[ki].seconds(cp.bytes);
        worst = std::max(worst, std::abs(cp.fittedUs - cp.medianUs) / cp.medianUs);
      }
      st.maxResidual[ki] = worst;
    }
    prof.shapes.push_back(st);
  }
  // The lm_head: dense only, a line through the origin at its bytes.
  {
    ShapeTiming st;
    st.rows = mc.vocabSize;
    st.cols = mc.hiddenSize;
    MatVec mv;
    mv.rows = st.rows;
    mv.cols = st.cols;
    mv.type = config.values;
    const double bytes = kernelBytes(Kernel::Dense, mv).total();
    st.kernels[static_cast<size_t>(Kernel::Dense)] = fitCostLine({{bytes, median(heads)}});
    if (std::find(shapes.begin(), shapes.end(), std::make_pair(st.rows, st.cols)) == shapes.end())
      prof.shapes.push_back(st);
  }
  for (const auto& [w, us] : topk) prof.topkUs.emplace_back(w, median(us));
  prof.otherUs = median(others);
  reportProgress(progress, Progress{"calibrate", "done", total, total});
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

}  // namespace duo::perf
