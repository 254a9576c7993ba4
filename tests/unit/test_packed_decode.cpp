// SPDX-License-Identifier: GPL-3.0-or-later
// The packed decode engine (core/engine/packed_decode.h) against the LibTorch decode on the bundled
// tiny model: weights pruned in-test (magnitude, or a 2:4 mask), the activation rule applied by
// the decoder's C++ rule on both sides; the logits of several KV-cached steps must agree. Also the
// C++ activation rules against core/prune's torch ones.
#include <QtTest>

#include "core/model/model_loader.h"
#include <QTemporaryDir>

#include "core/bench/calibrate_timing.h"
#include "core/engine/packed_decode.h"
#include "core/engine/timing_profile.h"
#include "core/model/row_ops.h"
#include "core/prune/act_hook.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/masks.h"
#include "kernels/matvec.h"

using duo::perf::Kernel;
using duo::perf::PackedDecoder;

namespace {

// Tolerance on the logits (tiny model: |logit| up to ~15): both sides compute in f32 and differ in
// summation order only (our kernels vs BLAS); measured max difference ~1e-5. A changed topk choice
// (two magnitudes within rounding of each other at the cut) would show as ~1e-1, far above.
constexpr double kLogitTol = 2e-4;

// Fixed token stream: both engines decode exactly the same inputs.
torch::Tensor tokenAt(int step, int batch) {
  auto t = torch::empty({batch, 1}, torch::kLong);  // [B, 1] i64
  for (int b = 0; b < batch; ++b) t[b][0] = 5 + (step * 37 + b * 101) % 900;
  return t;
}

// Rounds torch's own weights in place to what the int8 engine multiplies: projections, lm_head and
// embedding, row by row, q x scale with the kernels' functions.
void quantiseWeights(duo::LlamaModel& model) {
  auto quantise = [](torch::Tensor& w) {  // [rows, cols] f32, contiguous
    float* p = w.data_ptr<float>();
    const std::int64_t rows = w.size(0), cols = w.size(1);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float s = duo::kernels::int8RowScale(p + r * cols, cols);
      for (std::int64_t c = 0; c < cols; ++c)
        p[r * cols + c] = static_cast<float>(duo::kernels::quantizeInt8(p[r * cols + c], s)) * s;
    }
  };
  duo::LlamaWeights& w = model.weights();
  for (auto& lw : w.layers)
    for (auto& pw : lw.proj) quantise(pw);
  const bool tied = w.embed.data_ptr<float>() == w.lmHead.data_ptr<float>();
  quantise(w.lmHead);
  if (!tied) quantise(w.embed);
}

// x [..., d] f32 with every row rounded in int8 blocks as the int8-input kernels round it (q x scale).
torch::Tensor roundInputs(const torch::Tensor& x) {
  torch::Tensor y = x.contiguous().clone();
  const std::int64_t d = y.size(-1), rows = y.numel() / d;
  std::vector<std::int8_t> q(static_cast<size_t>(duo::kernels::inputBlocks(d) * duo::kernels::kInputBlock));
  std::vector<float> scale(static_cast<size_t>(duo::kernels::inputBlocks(d)));
  float* p = y.data_ptr<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    duo::kernels::quantizeInputBlocks(p + r * d, d, q.data(), scale.data());
    for (std::int64_t j = 0; j < d; ++j)
      p[r * d + j] = static_cast<float>(q[static_cast<size_t>(j)]) * scale[static_cast<size_t>(j / duo::kernels::kInputBlock)];
  }
  return y;
}

}  // namespace

class TestPackedDecode : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void topkRuleMatchesTorch_data();
  void topkRuleMatchesTorch();
  void thresholdRuleMatchesTorch();
  void topkTiesGoInIndexOrder();
  void swigluMatchesSilu();
  void decodeMatchesTorch_data();
  void decodeMatchesTorch();
  void kernelChoiceFollowsSparsity();
  void int8InputsRunOnTheirKernels();
  void int8ValuesMatchQuantisedTorch_data();
  void int8ValuesMatchQuantisedTorch();
  void fusedGroupsMatchSeparateCalls_data();
  void fusedGroupsMatchSeparateCalls();
  void rejectsMismatchedRule();
  void stepProfileAccountsForTheStep();
  void inSituCalibration();

 private:
  duo::LoadedModel load() { return duo::loadModel("tiny", torch::kCPU); }
};

void TestPackedDecode::initTestCase() {
  torch::manual_seed(7);
}

void TestPackedDecode::topkRuleMatchesTorch_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("k");
  QTest::addColumn<double>("p");
  QTest::newRow("1x192 p0.5") << 1 << 192 << 0.5;
  QTest::newRow("3x480 p0.25") << 3 << 480 << 0.25;
  QTest::newRow("2x7 p0.9") << 2 << 7 << 0.9;
  QTest::newRow("4x576 p0.7") << 4 << 576 << 0.7;
  QTest::newRow("4x192 p0.3") << 4 << 192 << 0.3;
  QTest::newRow("4x480 p0.3") << 4 << 480 << 0.3;
}

void TestPackedDecode::topkRuleMatchesTorch() {
  QFETCH(int, rows);
  QFETCH(int, k);
  QFETCH(double, p);
  const auto x = torch::randn({rows, k});  // [rows, k] f32, no ties
  const auto want = duo::sparsifyTopK(x, p);
  auto got = x.clone();
  duo::perf::sparsifyTopKRows(got.data_ptr<float>(), rows, k, p);
  QVERIFY(torch::equal(got, want));
  QCOMPARE(got.eq(0).sum().item<int64_t>(), rows * duo::topkZeroCount(k, p));
}

void TestPackedDecode::thresholdRuleMatchesTorch() {
  const auto x = torch::randn({3, 300});  // [3, 300] f32
  auto got = x.clone();
  duo::perf::sparsifyThresholdRows(got.data_ptr<float>(), got.numel(), 0.6f);
  QVERIFY(torch::equal(got, duo::sparsifyThreshold(x, 0.6f)));
}

void TestPackedDecode::topkTiesGoInIndexOrder() {
  // GQA makes ties real: at the first position each of a kv head's query heads copies the same v
  // row, so the o_proj input holds each value g times. Torch's topk picks an unspecified subset of
  // equal magnitudes at the cut; ours takes them in index order. Both zero exactly the count.
  float x[8] = {0.5f, -0.2f, 0.2f, 0.9f, 0.2f, -0.5f, 0.1f, 0.7f};  // [1, 8] f32
  duo::perf::sparsifyTopKRows(x, 1, 8, 0.375);                      // 3 go: 0.1 and the first two 0.2s
  const float want[8] = {0.5f, 0.0f, 0.0f, 0.9f, 0.2f, -0.5f, 0.0f, 0.7f};
  for (int i = 0; i < 8; ++i) QCOMPARE(x[i], want[i]);
}

// The step's SwiGLU (row_ops.h) against silu(gate) * up in f64, over ordinary inputs and the tails
// (|g| up to 200, where e^-|g| underflows, and subnormal-sized g).
void TestPackedDecode::swigluMatchesSilu() {
  torch::manual_seed(11);
  auto gate = torch::cat({torch::randn({4093}) * 4.0,
                          torch::tensor({-200.f, -90.f, -80.f, -30.f, -1e-30f, 0.f, 1e-30f, 30.f, 90.f, 200.f})});
  const auto up = torch::randn({gate.numel()});
  const auto g64 = gate.to(torch::kFloat64);
  const auto ref = g64 * torch::sigmoid(g64) * up.to(torch::kFloat64);
  duo::perf::swigluRows(gate.data_ptr<float>(), up.data_ptr<float>(), gate.numel());
  const double err = ((gate.to(torch::kFloat64) - ref).abs() / (ref.abs() + 1e-30)).max().item<double>();
  const double absErr = (gate.to(torch::kFloat64) - ref).abs().max().item<double>();
  qInfo("swigluRows: max relative error %.2e, max absolute %.2e", err, absErr);
  QVERIFY(absErr < 1e-5 * ref.abs().max().item<double>());
  QVERIFY(torch::isfinite(gate).all().item<bool>());
}

void TestPackedDecode::decodeMatchesTorch_data() {
  QTest::addColumn<int>("batch");
  QTest::addColumn<double>("weight");
  QTest::addColumn<double>("act");
  QTest::addColumn<QString>("rule");  // topk | threshold | nm (2:4 weights, dense inputs)
  QTest::newRow("w50 a50 topk batch 1") << 1 << 0.5 << 0.5 << "topk";
  QTest::newRow("w50 a50 topk batch 2") << 2 << 0.5 << 0.5 << "topk";
  QTest::newRow("w70 a30 topk batch 3") << 3 << 0.7 << 0.3 << "topk";
  QTest::newRow("w50 a40 threshold batch 1") << 1 << 0.5 << 0.4 << "threshold";
  QTest::newRow("2:4 dense inputs batch 2") << 2 << 0.5 << 0.0 << "nm";
  QTest::newRow("w0 a50 topk batch 1") << 1 << 0.0 << 0.5 << "topk";
  QTest::newRow("dense batch 9") << 9 << 0.0 << 0.0 << "topk";  // > kMaxBatch: two kernel calls
}

// q/k/v and gate/up as one product each (the default) against one call per projection: the same
// logits through the prefill (project(), the fused product sliced per member) and the steps, with
// the groups fused in every layer; on the dense kernel with f32 values nothing is fused.
void TestPackedDecode::fusedGroupsMatchSeparateCalls_data() {
  QTest::addColumn<QString>("values");
  QTest::addColumn<double>("weight");
  QTest::newRow("f32 dual-sparse") << "f32" << 0.5;
  QTest::newRow("int8 dual-sparse") << "int8" << 0.5;
  QTest::newRow("int8 dense") << "int8" << 0.0;
  QTest::newRow("f32 dense") << "f32" << 0.0;
}

void TestPackedDecode::fusedGroupsMatchSeparateCalls() {
  QFETCH(QString, values);
  QFETCH(double, weight);
  c10::InferenceMode inference;
  duo::LoadedModel m = load();
  duo::LlamaModel& model = *m.model;
  const int layers = static_cast<int>(model.config().numLayers);
  if (weight > 0) duo::perf::applyMagnitudeMask(model, weight);
  const duo::SparsityConfig cfg = duo::SparsityConfig::uniform(layers, weight, weight > 0 ? 0.5 : 0.0);
  duo::perf::PackedDecoderOptions opt;
  opt.values = duo::kernels::parseValueType(values.toStdString());
  opt.dense = weight == 0;
  opt.forceSparse = weight > 0;
  const PackedDecoder fused(model, cfg, {}, opt);
  opt.fuse = false;
  const PackedDecoder separate(model, cfg, {}, opt);
  const bool denseF32 = weight == 0 && values == "f32";
  QCOMPARE(fused.fusedGroups(), denseF32 ? 0 : 2 * layers);
  QCOMPARE(separate.fusedGroups(), 0);
  const int batch = 2, steps = 4, context = 9;
  const auto prompt = torch::randint(5, 900, {batch, context}, torch::kLong);  // [B, T] i64
  auto run = [&](const PackedDecoder& d) {
    std::vector<torch::Tensor> out;
    d.install(model);
    duo::KvCache cache = model.newCache(batch, context + steps);
    out.push_back(model.decodeStep(cache, prompt, d.hook()));  // prefill: project() per projection
    for (int s = 0; s < steps; ++s) out.push_back(model.decodeStep(cache, tokenAt(s, batch), d.hook()));
    PackedDecoder::uninstall(model);
    return out;
  };
  const auto a = run(fused), b = run(separate);
  double maxDiff = 0;
  for (size_t i = 0; i < a.size(); ++i) maxDiff = std::max(maxDiff, (a[i] - b[i]).abs().max().item<double>());
  qInfo("%s: %d fused groups, max |logit diff| %.2e", fused.kernelSummary().c_str(), fused.fusedGroups(), maxDiff);
  QVERIFY2(maxDiff <= kLogitTol, qPrintable(QString("max diff %1").arg(maxDiff)));
}

void TestPackedDecode::decodeMatchesTorch() {
  QFETCH(int, batch);
  QFETCH(double, weight);
  QFETCH(double, act);
  QFETCH(QString, rule);
  c10::InferenceMode inference;
  duo::LoadedModel m = load();
  duo::LlamaModel& model = *m.model;
  const int layers = static_cast<int>(model.config().numLayers);
  duo::SparsityConfig cfg = duo::SparsityConfig::uniform(layers, weight, act);
  duo::ActThresholds th;
  if (rule == "nm") {
    cfg.nm = duo::NmPattern{2, 4};
    for (auto& lw : model.weights().layers)
      for (auto& w : lw.proj) w.mul_(duo::keepNm(w.abs(), cfg.nm).to(torch::kFloat32));
  } else {
    duo::perf::applyMagnitudeMask(model, weight);
  }
  if (rule == "threshold") {
    // Fixed per-site thresholds (0.05, 0.10, 0.15, 0.20): the rule, not its calibration, is tested.
    cfg.actRule = duo::ActRule::Threshold;
    th.resize(layers);
    for (int l = 0; l < layers; ++l)
      for (int s = 0; s < duo::kNumSites; ++s) th.set(l, static_cast<duo::Site>(s), 0.05f * static_cast<float>(s + 1));
  }

  // One activation rule for both sides (the decoder's C++ rule; it equals core/prune's topk and
  // threshold rules except for which of several equal magnitudes at the cut goes, see
  // topkTiesGoInIndexOrder), so the comparison isolates the kernels and the packing.
  const PackedDecoder packed(model, cfg, th);
  const auto hook = packed.hook();
  if (weight > 0)
    QVERIFY2(std::abs(packed.weightSparsity() - weight) < 0.01, qPrintable(QString::number(packed.weightSparsity())));

  // Torch: the engine's own decode (torch::linear) with the hook; for the threshold rule, which has
  // no ties to break, core/prune's own hook (what `eval` applies).
  const auto torchHook = rule == "threshold" ? duo::makeActivationHook(cfg, th) : hook;
  const int steps = 6, context = 12;
  const auto prompt = torch::randint(5, 900, {batch, context}, torch::kLong);  // [B, T] i64
  std::vector<torch::Tensor> want;
  {
    duo::KvCache cache = model.newCache(batch, context + steps);
    model.decodeStep(cache, prompt, torchHook);
    for (int s = 0; s < steps; ++s) want.push_back(model.decodeStep(cache, tokenAt(s, batch), torchHook));
  }
  // Packed: the same decode with the override installed.
  packed.install(model);
  duo::KvCache cache = model.newCache(batch, context + steps);
  model.decodeStep(cache, prompt, hook);
  double maxDiff = 0, scale = 0;
  for (int s = 0; s < steps; ++s) {
    const auto got = model.decodeStep(cache, tokenAt(s, batch), hook);  // [B, vocab] f32
    QVERIFY(got.sizes() == want[static_cast<size_t>(s)].sizes());
    maxDiff = std::max(maxDiff, (got - want[static_cast<size_t>(s)]).abs().max().item<double>());
    scale = std::max(scale, want[static_cast<size_t>(s)].abs().max().item<double>());
  }
  PackedDecoder::uninstall(model);
  qInfo("kernels: %s; max |logit diff| %.2e (max |logit| %.1f)", packed.kernelSummary().c_str(), maxDiff, scale);
  QVERIFY2(maxDiff <= kLogitTol, qPrintable(QString("max diff %1").arg(maxDiff)));
  QVERIFY(scale > 1.0);  // the comparison is not between two near-zero outputs
}

void TestPackedDecode::int8ValuesMatchQuantisedTorch_data() {
  QTest::addColumn<double>("weight");
  QTest::addColumn<bool>("forceSparse");
  QTest::newRow("dense weights, dense kernel") << 0.0 << false;
  QTest::newRow("W50, weight-sparse kernel") << 0.5 << true;
}

// With int8 values the engine decodes exactly the model whose projections, lm_head and embedding
// are q x scale per row (the kernels' own quantisation applied to torch's weights): logits agree
// to float rounding, while the f32 model's differ by the rounding of the weights.
void TestPackedDecode::int8ValuesMatchQuantisedTorch() {
  QFETCH(double, weight);
  QFETCH(bool, forceSparse);
  c10::InferenceMode inference;
  duo::LoadedModel m = load();
  duo::LlamaModel& model = *m.model;
  duo::perf::applyMagnitudeMask(model, weight);
  duo::perf::PackedDecoderOptions opt;
  opt.values = duo::kernels::ValueType::I8;
  opt.forceSparse = forceSparse;
  const PackedDecoder packed(model, {}, {}, opt);  // holds int8 copies of every weight it multiplies
  QCOMPARE(packed.values(), duo::kernels::ValueType::I8);
  const int steps = 4, context = 8, batch = 2;
  const auto prompt = torch::randint(5, 900, {batch, context}, torch::kLong);  // [B, T] i64
  auto decode = [&](bool viaPacked) {
    if (viaPacked) packed.install(model);
    duo::KvCache cache = model.newCache(batch, context + steps);
    model.decodeStep(cache, prompt, {});
    std::vector<torch::Tensor> out;
    for (int s = 0; s < steps; ++s) out.push_back(model.decodeStep(cache, tokenAt(s, batch), {}));
    PackedDecoder::uninstall(model);
    return out;
  };
  const std::vector<torch::Tensor> f32 = decode(false);
  quantiseWeights(model);
  const std::vector<torch::Tensor> want = decode(false);
  const std::vector<torch::Tensor> got = decode(true);
  double maxDiff = 0, scale = 0, f32Diff = 0;
  for (int s = 0; s < steps; ++s) {
    maxDiff = std::max(maxDiff, (got[static_cast<size_t>(s)] - want[static_cast<size_t>(s)]).abs().max().item<double>());
    f32Diff = std::max(f32Diff, (got[static_cast<size_t>(s)] - f32[static_cast<size_t>(s)]).abs().max().item<double>());
    scale = std::max(scale, want[static_cast<size_t>(s)].abs().max().item<double>());
  }
  qInfo("int8 %s: max |logit diff| %.2e against the quantised torch model, %.2e against the f32 one (max |logit| %.1f)",
        packed.kernelSummary().c_str(), maxDiff, f32Diff, scale);
  QVERIFY2(maxDiff <= kLogitTol, qPrintable(QString("max diff %1").arg(maxDiff)));
  QVERIFY2(f32Diff > 10 * maxDiff, "the int8 decode is indistinguishable from the f32 one: were the values int8?");
  QVERIFY(scale > 1.0);
}

void TestPackedDecode::kernelChoiceFollowsSparsity() {
  duo::LoadedModel m = load();
  const int layers = static_cast<int>(m.model->config().numLayers);
  {
    // Dense weights, dense inputs: the model's own tensors through the dense kernel.
    const PackedDecoder d(*m.model, duo::SparsityConfig{});
    QVERIFY(d.projection(0, duo::Proj::Q).kernel == Kernel::Dense);
    QCOMPARE(d.weightSparsity(), 0.0);
  }
  {
    const PackedDecoder d(*m.model, duo::SparsityConfig::uniform(layers, 0.0, 0.5));
    QVERIFY(d.projection(1, duo::Proj::Down).kernel == Kernel::ActSparse);
  }
  duo::perf::applyMagnitudeMask(*m.model, 0.5);
  {
    const PackedDecoder d(*m.model, duo::SparsityConfig::uniform(layers, 0.5, 0.5));
    for (int l = 0; l < layers; ++l)
      for (int p = 0; p < duo::kNumProj; ++p) {
        const auto& pp = d.projection(l, static_cast<duo::Proj>(p));
        QVERIFY(pp.kernel == Kernel::DualSparse);
        QCOMPARE(QString::fromStdString(pp.format), QString("bitmap"));
      }
    QVERIFY(d.projectionBytes() > 0);
  }
  {
    const PackedDecoder d(*m.model, duo::SparsityConfig::uniform(layers, 0.5, 0.0));
    QVERIFY(d.projection(0, duo::Proj::Up).kernel == Kernel::WeightSparse);
    duo::perf::PackedDecoderOptions dense;
    dense.dense = true;
    const PackedDecoder dd(*m.model, duo::SparsityConfig::uniform(layers, 0.5, 0.5), {}, dense);
    QVERIFY(dd.projection(0, duo::Proj::Up).kernel == Kernel::Dense);
    QVERIFY(!dd.hook());  // the dense baseline sparsifies nothing
  }
}

// Int8 inputs: where the packed int8-input kernels run at memory speed (AVX-512 VNNI) the pruned
// sites go to the packed formats (dual-sparse, weight-sparse for the dense-input site), elsewhere
// to act_sparse and dense; the lm_head too. On either ISA the logits move by the inputs' rounding
// only (a few per mille of their range, not zero); only with int8 values.
void TestPackedDecode::int8InputsRunOnTheirKernels() {
  c10::InferenceMode inference;
  duo::LoadedModel m = load();
  duo::LlamaModel& model = *m.model;
  const int layers = static_cast<int>(model.config().numLayers);
  duo::perf::applyMagnitudeMask(model, 0.5);
  duo::SparsityConfig act = duo::SparsityConfig::uniform(layers, 0.5, 0.5);
  for (int l = 0; l < layers; ++l) act.setSiteAct(l, duo::Site::Down, 0.0);  // one dense-input site per layer
  duo::perf::PackedDecoderOptions q8;
  q8.values = duo::kernels::ValueType::I8;
  q8.int8Inputs = true;
  // The active ISA, and AVX2 where it is another (the other choice of kernels).
  std::vector<duo::kernels::cpu::Isa> isas{duo::kernels::cpu::activeIsa()};
  for (duo::kernels::cpu::Isa isa : duo::kernels::cpu::supportedIsas())
    if (isa == duo::kernels::cpu::Isa::Avx2 && isa != isas[0]) isas.push_back(isa);
  const duo::kernels::cpu::Isa initial = isas[0];
  for (duo::kernels::cpu::Isa isa : isas) {
    duo::kernels::cpu::setIsa(isa);
    const bool atSpeed = duo::kernels::cpu::packedInt8InputsAtSpeed();
    const PackedDecoder packed(model, act, {}, q8);
    for (int l = 0; l < layers; ++l)
      for (int p = 0; p < duo::kNumProj; ++p) {
        const auto proj = static_cast<duo::Proj>(p);
        const Kernel want = proj == duo::Proj::Down ? (atSpeed ? Kernel::WeightSparse : Kernel::Dense)
                                                    : (atSpeed ? Kernel::DualSparse : Kernel::ActSparse);
        QVERIFY2(packed.projection(l, proj).kernel == want, duo::projName(proj));
        QVERIFY(packed.projection(l, proj).int8Inputs);
      }
    // Torch on the int8-rounded weights with the engine's activation rule, every projection's input
    // then rounded to int8 blocks: the engine's arithmetic except the lm_head's input, which the hook
    // cannot reach (its rounding moves the logits by about 1%). Without the inputs' rounding the
    // logits differ more: topk at 50% amplifies any perturbation through the layers.
    const auto rule = packed.hook();
    const duo::InputHook rounded = [&](int l, duo::Site s, const torch::Tensor& x) { return roundInputs(rule ? rule(l, s, x) : x); };
    const int steps = 4, context = 8, batch = 2;
    // One fixed prompt for every ISA: with topk at 50%, a near-tie that the f32 summation order
    // breaks the other way flips a selection, and some prompts then move the logits by ~2%.
    torch::manual_seed(21);
    const auto prompt = torch::randint(5, 900, {batch, context}, torch::kLong);  // [B, T] i64
    auto decode = [&](const duo::InputHook& hook, bool viaPacked) {
      if (viaPacked) packed.install(model);
      duo::KvCache cache = model.newCache(batch, context + steps);
      model.decodeStep(cache, prompt, hook);
      std::vector<torch::Tensor> out;
      for (int s = 0; s < steps; ++s) out.push_back(model.decodeStep(cache, tokenAt(s, batch), hook));
      PackedDecoder::uninstall(model);
      return out;
    };
    // The prompt's prefill runs through torch in both (the engine decodes single tokens), with the
    // rounded weights and inputs.
    quantiseWeights(model);  // (idempotent: a second pass rounds to the same integers)
    const std::vector<torch::Tensor> got = decode(rounded, true);
    const std::vector<torch::Tensor> want = decode(rounded, false), unrounded = decode(rule, false);
    double maxDiff = 0, unroundedDiff = 0, scale = 0;
    for (int s = 0; s < steps; ++s) {
      const auto i = static_cast<size_t>(s);
      maxDiff = std::max(maxDiff, (got[i] - want[i]).abs().max().item<double>());
      unroundedDiff = std::max(unroundedDiff, (got[i] - unrounded[i]).abs().max().item<double>());
      scale = std::max(scale, want[i].abs().max().item<double>());
    }
    qInfo("int8 inputs, %s kernels, %s: max |logit diff| %.2e against torch with rounded inputs, %.2e without (max |logit| %.1f)",
          duo::kernels::cpu::isaName(isa), packed.kernelSummary().c_str(), maxDiff, unroundedDiff, scale);
    QVERIFY(scale > 1.0);
    QVERIFY2(maxDiff < 0.02 * scale, qPrintable(QString("max diff %1").arg(maxDiff)));
    QVERIFY2(unroundedDiff > 3 * maxDiff, "rounding the inputs changed nothing: were they rounded?");
  }
  duo::kernels::cpu::setIsa(initial);
  duo::perf::PackedDecoderOptions bad = q8;
  bad.values = duo::kernels::ValueType::F32;
  QVERIFY_EXCEPTION_THROWN((void)PackedDecoder(model, act, {}, bad), duo::Error);
}

void TestPackedDecode::rejectsMismatchedRule() {
  duo::LoadedModel m = load();
  const int layers = static_cast<int>(m.model->config().numLayers);
  QVERIFY_EXCEPTION_THROWN((void)PackedDecoder(*m.model, duo::SparsityConfig::uniform(layers + 1, 0.5, 0.5)), duo::Error);
  auto thr = duo::SparsityConfig::uniform(layers, 0.5, 0.5);
  thr.actRule = duo::ActRule::Threshold;
  QVERIFY_EXCEPTION_THROWN((void)PackedDecoder(*m.model, thr, duo::ActThresholds{}), duo::Error);
}

void TestPackedDecode::stepProfileAccountsForTheStep() {
  duo::LoadedModel m = load();
  const int layers = static_cast<int>(m.model->config().numLayers);
  duo::perf::applyMagnitudeMask(*m.model, 0.5);
  const PackedDecoder d(*m.model, duo::SparsityConfig::uniform(layers, 0.5, 0.5));
  duo::KvCache cache = m.model->newCache(1, 16);
  torch::Tensor next = torch::tensor({{int64_t(5)}});
  next = d.step(cache, next).argmax(-1, true);  // untimed
  duo::perf::StepProfile sp;
  d.setStepProfile(&sp);
  for (int s = 0; s < 3; ++s) next = d.step(cache, next).argmax(-1, true);
  d.setStepProfile(nullptr);
  next = d.step(cache, next).argmax(-1, true);  // detached: not counted
  QCOMPARE(sp.steps, int64_t(3));
  QCOMPARE(sp.projSeconds.size(), size_t(layers) * duo::kNumProj);
  double parts = sp.headSeconds;
  for (double v : sp.projSeconds) {
    QVERIFY(v > 0);
    parts += v;
  }
  for (double v : sp.siteSeconds) {
    QVERIFY(v > 0);  // every site is sparsified at p_a 0.5
    parts += v;
  }
  QVERIFY(sp.headSeconds > 0);
  QVERIFY2(parts <= sp.totalSeconds, qPrintable(QString("parts %1 s > step %2 s").arg(parts).arg(sp.totalSeconds)));
}

// bench calibrate's measurement on the tiny model (few steps, one point): a line for every kernel
// at every projection shape, the lm_head, topk at both input widths and the rest of the step; the
// JSON round trip; and a decoder packed with the profile runs each projection on the kernel the
// profile says is fastest.
void TestPackedDecode::inSituCalibration() {
  duo::perf::CalibrateConfig c;
  c.model = "tiny";
  c.steps = 3;
  c.context = 8;
  c.points = {{0.5, 0.5}, {0.7, 0.3}};
  const duo::perf::CalibrationResult r = duo::perf::calibrateTiming(c);
  const duo::perf::TimingProfile& p = r.profile;
  duo::LoadedModel m = load();
  const duo::ModelConfig& mc = m.model->config();
  const duo::perf::ModelShape shape = duo::perf::shapeOf(mc);
  for (int q = 0; q < duo::perf::kProjections; ++q) {
    const auto mv = duo::perf::projectionShape(shape, static_cast<duo::perf::Projection>(q));
    const duo::perf::ShapeTiming& st = p.shape(mv.rows, mv.cols);
    for (Kernel k : {Kernel::Dense, Kernel::ActSparse, Kernel::WeightSparse, Kernel::DualSparse})
      QVERIFY2(st.at(k).fixedUs > 0 || st.at(k).gbs > 0, duo::perf::kernelKey(k));
  }
  QVERIFY(p.shape(mc.vocabSize, mc.hiddenSize).at(Kernel::Dense).gbs > 0);
  QVERIFY(p.topkSeconds(mc.hiddenSize) > 0);
  QVERIFY(p.topkSeconds(mc.intermediateSize) > 0);
  QVERIFY(p.otherUs > 0 && p.otherContext >= 8);
  QVERIFY(!r.points.empty());

  QTemporaryDir dir;
  const std::string path = dir.filePath("timing.json").toStdString();
  duo::perf::saveTimingProfile(path, p, r.points);
  const duo::perf::TimingProfile back = duo::perf::loadTimingProfile(path);
  QCOMPARE(duo::perf::timingProfileJson(back), duo::perf::timingProfileJson(p));

  duo::perf::DecodeInput in;
  in.shape = shape;
  in.layers = {duo::perf::LayerSparsity{}};
  for (auto& pt : in.layers[0]) pt = {0.5, 0.5};
  in.timing = &back;
  const duo::perf::DecodePrediction pred = duo::perf::predictDecode(in);
  QVERIFY(std::isfinite(pred.speedup) && pred.speedup > 0);
  QVERIFY(pred.sparseSeconds.sparsify > 0);

  duo::perf::applyMagnitudeMask(*m.model, 0.5);
  duo::perf::PackedDecoderOptions opt;
  opt.timing = back;
  const PackedDecoder d(*m.model, duo::SparsityConfig::uniform(static_cast<int>(mc.numLayers), 0.5, 0.5), {}, opt);
  for (int q = 0; q < duo::kNumProj; ++q) {
    const auto& pp = d.projection(0, static_cast<duo::Proj>(q));
    duo::perf::MatVec mv;
    mv.rows = pp.rows;
    mv.cols = pp.cols;
    mv.pW = pp.weightSparsity;
    mv.pA = pp.actSparsity;
    QVERIFY(pp.kernel == duo::perf::fastestKernel(mv, &back));
  }
}

QTEST_APPLESS_MAIN(TestPackedDecode)
#include "test_packed_decode.moc"
