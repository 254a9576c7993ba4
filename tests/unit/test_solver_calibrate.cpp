// SPDX-License-Identifier: GPL-3.0-or-later
// core/prune calibration pipeline on a small random LLaMA (2 layers, GQA): records in data-flow
// order with exact sparsities, the recorded errors equal a direct recomputation through the pruned
// model, every method runs, the threshold rule hits its fraction, nothing pruned changes nothing,
// and cancelling mid-layer leaves the input weights untouched.
#include <QtTest>

#include "core/common/error.h"
#include "core/model/llama_model.h"
#include "core/prune/act_hook.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/calibrate.h"

namespace {
duo::LlamaWeights randomModel(uint64_t seed) {
  torch::manual_seed(seed);
  duo::ModelConfig c;
  c.vocabSize = 97;
  c.hiddenSize = 64;
  c.intermediateSize = 128;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 16;
  duo::LlamaWeights w;
  w.config = c;
  w.embed = torch::randn({c.vocabSize, c.hiddenSize});
  const auto lin = [](int64_t n, int64_t k) { return torch::randn({n, k}) / std::sqrt(double(k)); };
  for (int l = 0; l < c.numLayers; ++l) {
    duo::LayerWeights lw;
    lw.attnNorm = 1.0 + 0.1 * torch::randn({c.hiddenSize});
    lw.mlpNorm = 1.0 + 0.1 * torch::randn({c.hiddenSize});
    lw.w(duo::Proj::Q) = lin(c.qDim(), c.hiddenSize);
    lw.w(duo::Proj::K) = lin(c.kvDim(), c.hiddenSize);
    lw.w(duo::Proj::V) = lin(c.kvDim(), c.hiddenSize);
    lw.w(duo::Proj::O) = lin(c.hiddenSize, c.qDim());
    lw.w(duo::Proj::Gate) = lin(c.intermediateSize, c.hiddenSize);
    lw.w(duo::Proj::Up) = lin(c.intermediateSize, c.hiddenSize);
    lw.w(duo::Proj::Down) = lin(c.hiddenSize, c.intermediateSize);
    w.layers.push_back(lw);
  }
  w.finalNorm = torch::ones({c.hiddenSize});
  w.lmHead = w.embed;
  return w;
}

// Deep copies of the 7 projections of every layer (to check the input is never written).
std::vector<torch::Tensor> projCopies(const duo::LlamaWeights& w) {
  std::vector<torch::Tensor> v;
  for (const auto& l : w.layers)
    for (const auto& p : l.proj) v.push_back(p.clone());
  return v;
}
bool projEqual(const duo::LlamaWeights& w, const std::vector<torch::Tensor>& copies) {
  size_t i = 0;
  for (const auto& l : w.layers)
    for (const auto& p : l.proj)
      if (!torch::equal(p, copies[i++])) return false;
  return true;
}

torch::Tensor windows(int n, int seqlen, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 97, {n, seqlen}, torch::kInt64);
}

duo::CalibrateOptions options(duo::Method m, double pw, double pa, duo::ActRule rule = duo::ActRule::TopK) {
  duo::CalibrateOptions o;
  o.method = m;
  o.sparsity = duo::SparsityConfig::uniform(2, pw, pa);
  o.sparsity.actRule = rule;
  o.batchWindows = 3;
  return o;
}

// The input of (layer, site) in `model` run with `hook` (applied at every site before it).
torch::Tensor siteInput(const duo::LlamaModel& model, const torch::Tensor& tokens, int layer, duo::Site site,
                        const duo::InputHook& hook) {
  torch::Tensor captured;
  try {
    model.forward(tokens, [&](int l, duo::Site s, const torch::Tensor& x) {
      if (l == layer && s == site) {
        captured = x;
        throw 0;
      }
      return hook ? hook(l, s, x) : x;
    });
  } catch (int) {
  }
  return captured.reshape({-1, captured.size(-1)});
}
}  // namespace

class TestSolverCalibrate : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { at::set_num_threads(1); }  // small problems: threads only add contention
  void recordsAndSparsity();
  void recordedErrorsMatchDirect_data();
  void recordedErrorsMatchDirect();
  void everyMethodRuns_data();
  void everyMethodRuns();
  void duoBeatsSparseGpt();
  void bf16ProductsNearF32();
  void thresholdRule();
  void nothingPrunedChangesNothing();
  void cancelMidLayer();
  void perProjectionConfig();
  void recomputedSiteInputsEqualKept_data();
  void recomputedSiteInputsEqualKept();
};

void TestSolverCalibrate::recordsAndSparsity() {
  const auto dense = randomModel(41);
  const auto before = projCopies(dense);
  std::vector<duo::ProjRecord> seen;
  int64_t lastDone = -1, total = 0;
  const auto res = duo::calibrate(
      dense, windows(8, 32, 1), options(duo::Method::DuoGpt, 0.5, 0.5),
      [&](const duo::Progress& p) {
        lastDone = p.done;
        total = p.total;
        return true;
      },
      [&](const duo::ProjRecord& r) { seen.push_back(r); });
  QVERIFY(projEqual(dense, before));
  QCOMPARE(res.records.size(), size_t(14));
  QCOMPARE(seen.size(), size_t(14));
  QCOMPARE(lastDone, int64_t(14));
  QCOMPARE(total, int64_t(14));
  for (size_t i = 0; i < 14; ++i) {
    const auto& r = res.records[i];
    QCOMPARE(r.layer, int(i / 7));
    QCOMPARE(int(r.proj), int(i % 7));  // q, k, v, o, gate, up, down
    QCOMPARE(seen[i].relError, r.relError);
    QCOMPARE(r.weightSparsity, 0.5);    // exact per block, every block even
    QCOMPARE(r.actSparsity, 0.5);       // topk: exact per token
    QVERIFY(std::isfinite(r.relError) && r.relError > 0 && r.relError < 1);
    QVERIFY(r.relError <= r.relErrorMaskOnly);
    QVERIFY(r.seconds >= 0);
    QCOMPARE(duo::zeroFraction(res.weights.layers[i / 7].proj[i % 7]), 0.5);
  }
  QVERIFY(res.weights.embed.is_same(dense.embed));
  QVERIFY(res.weights.layers[1].attnNorm.is_same(dense.layers[1].attnNorm));
  QCOMPARE(res.thresholds.numLayers(), 0);
  QVERIFY(res.secondsForward > 0 && res.secondsStats > 0 && res.secondsSolve > 0);
  // The solver's phases are part of the solve's time.
  QVERIFY(res.solvePhases.has_value());
  const duo::ObsProfile& ph = *res.solvePhases;
  QVERIFY(ph.cholesky > 0 && ph.inverse > 0 && ph.residual > 0 && ph.masks > 0 && ph.sweep > 0 && ph.update > 0);
  QVERIFY(ph.cholesky + ph.inverse + ph.residual + ph.masks + ph.sweep + ph.update <= res.secondsSolve);
}

void TestSolverCalibrate::recordedErrorsMatchDirect_data() {
  QTest::addColumn<int>("method");
  QTest::addColumn<int>("nWindows");
  QTest::addColumn<double>("maskOnlyTol");
  QTest::newRow("duogpt") << int(duo::Method::DuoGpt) << 6 << 2e-3;
  QTest::newRow("sparsegpt") << int(duo::Method::SparseGpt) << 6 << 2e-3;
  QTest::newRow("wanda") << int(duo::Method::Wanda) << 6 << 2e-3;
  // 2304 tokens: the mask-only error is estimated on every other token (about 1024 are taken).
  QTest::newRow("duogpt, mask-only sampled") << int(duo::Method::DuoGpt) << 96 << 0.01;
  QTest::newRow("sparsegpt, mask-only sampled") << int(duo::Method::SparseGpt) << 96 << 0.01;
}

// Each layer-1 record's error equals ||W' S(X) - W Xd||^2 / ||W Xd||^2 recomputed from scratch:
// Xd from the dense model, X from the pruned model with the activation rule on (as evaluated).
// This checks both streams: dense weights for Xd, pruned earlier layers/groups for X. The mask-only
// error (W o keep in place of W') is exact where the run has at most about 1024 tokens, an estimate
// from a sample of them beyond.
void TestSolverCalibrate::recordedErrorsMatchDirect() {
  QFETCH(int, method);
  QFETCH(int, nWindows);
  QFETCH(double, maskOnlyTol);
  const auto dense = randomModel(42);
  const auto tokens = windows(nWindows, 24, 2);
  const auto opts = options(static_cast<duo::Method>(method), 0.5, 0.5);
  const auto res = duo::calibrate(dense, tokens, opts);
  const duo::LlamaModel denseModel(dense);
  const duo::LlamaModel pruned(res.weights);
  const auto act = duo::makeActivationHook(opts.sparsity);
  const auto relTo = [](const torch::Tensor& y, const torch::Tensor& ref) {
    return (y - ref).square().sum().item<double>() / ref.square().sum().item<double>();
  };
  for (duo::Proj p : {duo::Proj::Q, duo::Proj::O, duo::Proj::Gate, duo::Proj::Down}) {
    const auto site = duo::siteOf(p);
    const auto xd = siteInput(denseModel, tokens, 1, site, {}).to(torch::kFloat64);  // [m, k]
    const auto xs =
        duo::applyActivationRule(opts.sparsity, {}, 1, site, siteInput(pruned, tokens, 1, site, act)).to(torch::kFloat64);
    const auto W = dense.layers[1].w(p).to(torch::kFloat64);
    const auto Wp = res.weights.layers[1].w(p).to(torch::kFloat64);
    const auto ref = torch::mm(xd, W.t());
    const double direct = relTo(torch::mm(xs, Wp.t()), ref);
    const double directMask = relTo(torch::mm(xs, (W * Wp.ne(0)).t()), ref);
    const auto& rec = res.records[size_t(7 + int(p))];
    QVERIFY2(std::abs(rec.relError - direct) < 2e-3 * direct,
             qPrintable(QString("%1: recorded %2, direct %3").arg(duo::projName(p)).arg(rec.relError).arg(direct)));
    QVERIFY2(std::abs(rec.relErrorMaskOnly - directMask) < maskOnlyTol * directMask,
             qPrintable(QString("%1: mask-only recorded %2, direct %3")
                            .arg(duo::projName(p))
                            .arg(rec.relErrorMaskOnly)
                            .arg(directMask)));
  }
}

void TestSolverCalibrate::everyMethodRuns_data() {
  QTest::addColumn<int>("method");
  for (duo::Method m : duo::allMethods()) QTest::newRow(duo::methodName(m)) << int(m);
}

void TestSolverCalibrate::everyMethodRuns() {
  QFETCH(int, method);
  const auto m = static_cast<duo::Method>(method);
  const auto dense = randomModel(43);
  const auto before = projCopies(dense);
  const auto res = duo::calibrate(dense, windows(6, 24, 3), options(m, 0.5, 0.5));
  QVERIFY(projEqual(dense, before));
  if (m == duo::Method::Dense) {
    QVERIFY(res.records.empty());
    return;
  }
  QCOMPARE(res.records.size(), size_t(14));
  for (const auto& r : res.records) {
    QCOMPARE(r.weightSparsity, m == duo::Method::Teal ? 0.0 : 0.5);
    QCOMPARE(r.actSparsity, 0.5);
    QVERIFY(std::isfinite(r.relError) && std::isfinite(r.relErrorMaskOnly));
    if (m == duo::Method::Teal) {
      QCOMPARE(r.relError, r.relErrorMaskOnly);
      QVERIFY(res.weights.layers[size_t(r.layer)].w(r.proj).is_same(dense.layers[size_t(r.layer)].w(r.proj)));
    }
  }
}

// Mean recorded error over the 14 projections (W50/A50): DuoGPT below SparseGPT (both variants),
// SparseGPT below Wanda and magnitude.
void TestSolverCalibrate::duoBeatsSparseGpt() {
  const auto dense = randomModel(44);
  const auto tokens = windows(8, 32, 4);
  const auto mean = [&](duo::Method m) {
    double s = 0;
    for (const auto& r : duo::calibrate(dense, tokens, options(m, 0.5, 0.5)).records) s += r.relError / 14.0;
    return s;
  };
  const double duoE = mean(duo::Method::DuoGpt), sg = mean(duo::Method::SparseGpt),
               sgIn = mean(duo::Method::SparseGptSparseIn), wanda = mean(duo::Method::Wanda),
               mag = mean(duo::Method::Magnitude);
  qInfo("mean rel. error: duogpt %.4f, sparsegpt %.4f, sparsegpt-sparse-in %.4f, wanda %.4f, magnitude %.4f", duoE, sg,
        sgIn, wanda, mag);
  QVERIFY(duoE < sg);
  QVERIFY(duoE < sgIn);
  QVERIFY(sg < wanda);
  QVERIFY(sg < mag);
}

// computeDtype bf16 (the streams' projections and the statistics' products in bf16, f32
// accumulation): the same masks almost everywhere, per-projection output errors close to f32's, and
// DuoGPT still below SparseGPT.
void TestSolverCalibrate::bf16ProductsNearF32() {
  const auto dense = randomModel(44);
  const auto tokens = windows(8, 32, 4);
  auto o32 = options(duo::Method::DuoGpt, 0.5, 0.5);
  auto o16 = o32;
  o16.computeDtype = torch::kBFloat16;
  const auto r32 = duo::calibrate(dense, tokens, o32), r16 = duo::calibrate(dense, tokens, o16);
  QCOMPARE(r16.records.size(), r32.records.size());
  double mean16 = 0, mean32 = 0;
  for (size_t i = 0; i < r32.records.size(); ++i) {
    const double e32 = r32.records[i].relError, e16 = r16.records[i].relError;
    QVERIFY2(std::abs(e16 - e32) <= 0.05 * e32 + 1e-4, qPrintable(QString("record %1: %2 vs %3").arg(i).arg(e16).arg(e32)));
    mean16 += e16 / double(r32.records.size());
    mean32 += e32 / double(r32.records.size());
  }
  int64_t same = 0, all = 0;
  for (size_t l = 0; l < r32.weights.layers.size(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      const auto& a = r32.weights.layers[l].proj[static_cast<size_t>(p)];
      const auto& b = r16.weights.layers[l].proj[static_cast<size_t>(p)];
      same += a.ne(0).eq(b.ne(0)).sum().item<int64_t>();
      all += a.numel();
    }
  const double agree = double(same) / double(all);
  double sg = 0;
  for (const auto& r : duo::calibrate(dense, tokens, options(duo::Method::SparseGpt, 0.5, 0.5)).records)
    sg += r.relError / double(r32.records.size());
  qInfo("bf16 products: mean rel. error %.4f (f32 %.4f, sparsegpt f32 %.4f), masks agree on %.4f", mean16, mean32, sg,
        agree);
  QVERIFY(agree > 0.97);
  QVERIFY(mean16 < sg);
}

// Threshold rule: every (layer, site) gets a threshold; on the calibration data it zeroes p_a
// within 0.005, and the hook built from the thresholds is what calibration used.
void TestSolverCalibrate::thresholdRule() {
  const auto dense = randomModel(45);
  const auto tokens = windows(8, 32, 5);
  const auto opts = options(duo::Method::DuoGpt, 0.5, 0.4, duo::ActRule::Threshold);
  const auto res = duo::calibrate(dense, tokens, opts);
  QCOMPARE(res.thresholds.numLayers(), 2);
  for (int l = 0; l < 2; ++l)
    for (int s = 0; s < duo::kNumSites; ++s) QVERIFY(res.thresholds.at(l, static_cast<duo::Site>(s)) > 0.0f);
  for (const auto& r : res.records)
    QVERIFY2(std::abs(r.actSparsity - 0.4) < 0.005, qPrintable(QString::number(r.actSparsity)));
  const duo::LlamaModel pruned(res.weights);
  const auto hook = duo::makeActivationHook(opts.sparsity, res.thresholds);
  const auto x = siteInput(pruned, tokens, 1, duo::Site::Down, hook);
  const auto xs = duo::sparsifyThreshold(x, res.thresholds.at(1, duo::Site::Down));
  const double frac = xs.eq(0).to(torch::kFloat64).mean().item<double>();
  QVERIFY(std::abs(frac - res.records[13].actSparsity) < 1e-9);
}

// p_w = 0, p_a = 0: SparseGPT prunes nothing and, with dX = 0, updates nothing; the two streams
// coincide and every recorded error is ~0.
void TestSolverCalibrate::nothingPrunedChangesNothing() {
  const auto dense = randomModel(46);
  const auto res = duo::calibrate(dense, windows(4, 16, 6), options(duo::Method::SparseGpt, 0.0, 0.0));
  for (const auto& r : res.records) {
    QCOMPARE(r.weightSparsity, 0.0);
    QCOMPARE(r.actSparsity, 0.0);
    QVERIFY2(r.relError < 1e-9, qPrintable(QString::number(r.relError)));
    QVERIFY(torch::allclose(res.weights.layers[size_t(r.layer)].w(r.proj), dense.layers[size_t(r.layer)].w(r.proj)));
  }
}

// Cancelling inside layer 1 (after its q/k/v group) throws Cancelled and leaves the input untouched.
void TestSolverCalibrate::cancelMidLayer() {
  const auto dense = randomModel(47);
  const auto before = projCopies(dense);
  int records = 0;
  bool threw = false;
  try {
    duo::calibrate(
        dense, windows(6, 24, 7), options(duo::Method::DuoGpt, 0.5, 0.5),
        [&](const duo::Progress& p) { return p.done < 10; }, [&](const duo::ProjRecord&) { ++records; });
  } catch (const duo::Cancelled&) {
    threw = true;
  }
  QVERIFY(threw);
  QCOMPARE(records, 10);
  QVERIFY(projEqual(dense, before));
}

void TestSolverCalibrate::perProjectionConfig() {
  const auto dense = randomModel(48);
  auto opts = options(duo::Method::DuoGpt, 0.5, 0.5);
  opts.sparsity.setWeight(0, duo::Proj::Q, 0.25);
  opts.sparsity.setWeight(1, duo::Proj::Down, 0.75);
  opts.sparsity.setSiteAct(1, duo::Site::GateUp, 0.0);
  const auto res = duo::calibrate(dense, windows(4, 16, 8), opts);
  QCOMPARE(res.records[0].weightSparsity, 0.25);
  QCOMPARE(res.records[1].weightSparsity, 0.5);
  QCOMPARE(res.records[13].weightSparsity, 0.75);
  QCOMPARE(res.records[11].actSparsity, 0.0);
  QCOMPARE(res.records[12].actSparsity, 0.0);
  QCOMPARE(res.records[13].actSparsity, 0.5);
  // N:M from the config.
  opts = options(duo::Method::DuoGpt, 0.0, 0.5);
  opts.sparsity.nm = {2, 4};
  const auto nm = duo::calibrate(dense, windows(4, 16, 8), opts);
  for (const auto& r : nm.records) {
    const auto W = nm.weights.layers[size_t(r.layer)].w(r.proj);
    QVERIFY(W.reshape({W.size(0), -1, 4}).eq(0).sum(2).eq(2).all().item<bool>());
  }
}

void TestSolverCalibrate::recomputedSiteInputsEqualKept_data() {
  QTest::addColumn<int>("method");
  QTest::addColumn<int>("rule");
  QTest::newRow("duogpt topk") << int(duo::Method::DuoGpt) << int(duo::ActRule::TopK);
  QTest::newRow("duogpt threshold") << int(duo::Method::DuoGpt) << int(duo::ActRule::Threshold);
  QTest::newRow("sparsegpt (third stream)") << int(duo::Method::SparseGpt) << int(duo::ActRule::TopK);
  QTest::newRow("wanda (third stream)") << int(duo::Method::Wanda) << int(duo::ActRule::TopK);
}

// Recomputing each chunk's layer prefix per group (--site-inputs recompute) computes the same
// arithmetic as keeping every site input: identical pruned weights, thresholds and records.
void TestSolverCalibrate::recomputedSiteInputsEqualKept() {
  QFETCH(int, method);
  QFETCH(int, rule);
  const auto dense = randomModel(45);
  const auto tokens = windows(7, 24, 3);  // 3 chunks of 3, 3 and 1 windows
  auto opts = options(static_cast<duo::Method>(method), 0.5, 0.5, static_cast<duo::ActRule>(rule));
  const auto kept = duo::calibrate(dense, tokens, opts);
  opts.keepSiteInputs = false;
  const auto recomputed = duo::calibrate(dense, tokens, opts);
  for (size_t l = 0; l < dense.layers.size(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p)
      QVERIFY2(torch::equal(kept.weights.layers[l].proj[size_t(p)], recomputed.weights.layers[l].proj[size_t(p)]),
               qPrintable(QString("layer %1 proj %2").arg(l).arg(p)));
  QCOMPARE(kept.records.size(), recomputed.records.size());
  for (size_t i = 0; i < kept.records.size(); ++i) {
    QCOMPARE(kept.records[i].relError, recomputed.records[i].relError);
    QCOMPARE(kept.records[i].relErrorMaskOnly, recomputed.records[i].relErrorMaskOnly);
    QCOMPARE(kept.records[i].actSparsity, recomputed.records[i].actSparsity);
  }
  if (rule == int(duo::ActRule::Threshold))
    for (int l = 0; l < 2; ++l)
      for (int site = 0; site < duo::kNumSites; ++site)
        QCOMPARE(kept.thresholds.at(l, static_cast<duo::Site>(site)), recomputed.thresholds.at(l, static_cast<duo::Site>(site)));
}

QTEST_APPLESS_MAIN(TestSolverCalibrate)
#include "test_solver_calibrate.moc"
