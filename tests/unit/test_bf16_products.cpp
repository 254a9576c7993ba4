// SPDX-License-Identifier: GPL-3.0-or-later
// Calibration's bf16 products (core/common/bf16_gemm.h): f32 results of bf16 operands, on oneDNN where
// the CPU has BF16 instructions and the build found oneDNN, LibTorch's otherwise; the f32 Gram
// matrix's upper triangle from the BLAS's ssyrk and the f32 statistics built on it; the attention's
// bf16 products and its mask on the diagonal blocks (core/model/llama_model.h), and the raw-row
// RMSNorm against its formula.
#include <QtTest/QtTest>
#include <torch/torch.h>

#include "core/common/bf16_gemm.h"
#include "core/common/device.h"
#include "core/model/llama_model.h"
#include "core/prune/input_stats.h"

namespace {

// max |a - b| / max |b| with b the f64 reference.
double relMax(const torch::Tensor& a, const torch::Tensor& ref) {
  return ((a.to(torch::kFloat64) - ref).abs().max() / ref.abs().max()).item<double>();
}

duo::ModelConfig smallConfig() {
  duo::ModelConfig c;
  c.vocabSize = 64;
  c.hiddenSize = 128;
  c.intermediateSize = 256;
  c.numLayers = 1;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 32;
  c.maxPositions = 512;
  return c;
}

}  // namespace

class TestBf16Products : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void productsOfRoundedOperands();
  void batchedIntoStridedOut();
  void otherDtypesUnchanged();
  void gramUpperMatchesProduct();
  void attentionBf16NearF32();
  void attentionIsCausalOnEveryBlock();
  void rmsNormMatchesFormula();
};

// The products of bf16 operands come back in f32: against the f64 product of the same rounded values,
// within f32 accumulation where unrounded, within bf16's rounding of the result otherwise. Operands
// as the statistics' row panels read them: a transposed, narrowed view and a narrowed one.
void TestBf16Products::productsOfRoundedOperands() {
  torch::manual_seed(3);
  const auto S = torch::randn({700, 300}).to(torch::kBFloat16);
  const auto A = S.narrow(1, 40, 100).t();   // [100, 700], strides (1, 300)
  const auto B = S.narrow(1, 40, 260);       // [700, 260], strides (300, 1)
  const auto ref = torch::mm(A.to(torch::kFloat64), B.to(torch::kFloat64));
  const auto c = duo::mmF32(A, B);
  QCOMPARE(c.scalar_type(), torch::kFloat32);
  QCOMPARE(c.sizes(), ref.sizes());
  const double e = relMax(c, ref);
  const bool unrounded = duo::bf16ProductsUnrounded(torch::kCPU);
  qInfo("bf16 products %s: max relative error %.2e (%s)", unrounded ? "unrounded (oneDNN)" : "LibTorch's", e,
        duo::bf16Products(false).detail.c_str());
  QVERIFY2(e < (unrounded ? 1e-5 : 1e-2), "bf16 product off its reference");
  if (unrounded) {  // and far closer than LibTorch's own bf16 result, rounded to 8 bits of mantissa
    const double rounded = relMax(torch::mm(A, B).to(torch::kFloat32), ref);
    QVERIFY2(e * 50 < rounded, "the oneDNN result is not more precise than a rounded one");
  }
  // linearF32 of a [2, 350, 300] input against a weight [64, 300].
  const auto x = torch::randn({2, 350, 300}).to(torch::kBFloat16);
  const auto w = torch::randn({64, 300}).to(torch::kBFloat16);
  const auto y = duo::linearF32(x, w);
  QCOMPARE(y.sizes(), (torch::IntArrayRef{2, 350, 64}));
  QVERIFY(relMax(y, torch::matmul(x.to(torch::kFloat64), w.to(torch::kFloat64).t())) < (unrounded ? 1e-5 : 1e-2));
}

// bmmF32Into writes the products into a strided view of a larger tensor and nowhere else.
void TestBf16Products::batchedIntoStridedOut() {
  torch::manual_seed(4);
  const auto a = torch::randn({3, 50, 32}).to(torch::kBFloat16);
  const auto b = torch::randn({3, 90, 32}).to(torch::kBFloat16).transpose(1, 2);  // [3, 32, 90]
  auto big = torch::full({3, 80, 90}, 7.0f);
  duo::bmmF32Into(a, b, big.narrow(1, 20, 50));
  const auto ref = torch::bmm(a.to(torch::kFloat64), b.to(torch::kFloat64));
  QVERIFY(relMax(big.narrow(1, 20, 50), ref) < (duo::bf16ProductsUnrounded(torch::kCPU) ? 1e-5 : 1e-2));
  QVERIFY(big.narrow(1, 0, 20).eq(7.0f).all().item<bool>());
  QVERIFY(big.narrow(1, 70, 10).eq(7.0f).all().item<bool>());
}

// f32 and f64 products are torch::mm's, in their own dtype (the statistics' f64 test mode).
void TestBf16Products::otherDtypesUnchanged() {
  const auto a = torch::randn({20, 30}, torch::kFloat64), b = torch::randn({30, 10}, torch::kFloat64);
  const auto c = duo::mmF32(a, b);
  QCOMPARE(c.scalar_type(), torch::kFloat64);
  QVERIFY(torch::equal(c, torch::mm(a, b)));
  const auto a32 = a.to(torch::kFloat32), b32 = b.to(torch::kFloat32);
  QVERIFY(torch::equal(duo::mmF32(a32, b32), torch::mm(a32, b32)));
}

// The attention with bf16 products stays within bf16's rounding of the f32 one (300 positions:
// three query blocks, the last one partial).
// gramUpperF32: s^T s on and above the diagonal, zeros below, each entry within f32 accumulation of
// the f64 product, for a contiguous operand and for a column slice of a wider one (row stride
// larger than its width, as a site's input read from a wider buffer would be); undefined where it
// does not apply. Then the f32 statistics that use it for H: H within f32 accumulation of the f64
// sums at a k with a partial last panel, and exactly symmetric; the same where k is beyond
// kGramMaxWidth (panels).
void TestBf16Products::gramUpperMatchesProduct() {
  torch::manual_seed(11);
  const auto wide = torch::randn({700, 300});
  for (const torch::Tensor& s : {wide.narrow(1, 0, 200).contiguous(), wide.narrow(1, 50, 200)}) {
    const torch::Tensor g = duo::gramUpperF32(s);
    // Debian's LibTorch loads libblas.so.3 (OpenBLAS here, by scripts/setup.sh), which exports ssyrk_.
    QVERIFY2(g.defined(), "the loaded BLAS exports no ssyrk_");
    QCOMPARE(g.sizes(), torch::IntArrayRef({200, 200}));
    QCOMPARE(g.scalar_type(), torch::kFloat32);
    QVERIFY(torch::equal(g.tril(-1), torch::zeros_like(g)));
    const auto s64 = s.to(torch::kFloat64);
    const auto ref = torch::mm(s64.t(), s64);
    QVERIFY2(relMax(g, ref.triu()) < 1e-5, qPrintable(QString::number(relMax(g, ref.triu()))));
  }
  QVERIFY(!duo::gramUpperF32(wide.to(torch::kFloat64)).defined());
  QVERIFY(!duo::gramUpperF32(wide.t()).defined());  // columns not contiguous
  QVERIFY(!duo::gramUpperF32(torch::zeros({0, 8})).defined());
  QVERIFY(!duo::gramUpperF32(torch::zeros({2, duo::kGramMaxWidth + 1})).defined());

  for (const int64_t k : {int64_t(300), duo::kGramMaxWidth + 40}) {
    const auto xs = torch::randn({3, 100, k});
    duo::StatsOptions o;
    o.trackResidual = false;  // f32 sums, f32 products
    duo::InputStats stats(k, o);
    stats.addBatch(xs.narrow(0, 0, 2));
    stats.addBatch(xs.narrow(0, 2, 1));
    const auto x64 = xs.reshape({-1, k}).to(torch::kFloat64);
    const auto ref = torch::mm(x64.t(), x64) * (2.0 / 300.0);
    QVERIFY2(relMax(stats.H(), ref) < 1e-5, qPrintable(QString("k %1: %2").arg(k).arg(relMax(stats.H(), ref))));
    QVERIFY(torch::equal(stats.H(), stats.H().t()));
  }
}

void TestBf16Products::attentionBf16NearF32() {
  torch::NoGradGuard noGrad;
  torch::manual_seed(5);
  const duo::LlamaModel m(duo::configOnly(smallConfig()));
  const auto q = torch::randn({2, 300, 128}), k = torch::randn({2, 300, 64}), v = torch::randn({2, 300, 64});
  const auto o32 = m.attend(0, q, k, v, false);
  const auto o16 = m.attend(0, q, k, v, true);
  QCOMPARE(o16.sizes(), o32.sizes());
  const double e = ((o16 - o32).norm() / o32.norm()).item<double>();
  qInfo("attention, bf16 products against f32: relative error %.2e", e);
  QVERIFY(e < 2e-2);
  if (!duo::bf16ProductsUnrounded(torch::kCPU)) QVERIFY(torch::equal(o16, o32));  // the flag changes nothing there
}

// Keys and values at positions >= 200 change nothing before position 200 (the mask, applied on
// each block's own keys only, hides them exactly), and do change what comes after.
void TestBf16Products::attentionIsCausalOnEveryBlock() {
  torch::NoGradGuard noGrad;
  torch::manual_seed(6);
  const duo::LlamaModel m(duo::configOnly(smallConfig()));
  const auto q = torch::randn({2, 300, 128}), k = torch::randn({2, 300, 64}), v = torch::randn({2, 300, 64});
  auto k2 = k.clone(), v2 = v.clone();
  k2.narrow(1, 200, 100).normal_();
  v2.narrow(1, 200, 100).normal_();
  for (const bool bf16 : {false, true}) {
    const auto a = m.attend(0, q, k, v, bf16), b = m.attend(0, q, k2, v2, bf16);
    QVERIFY(torch::equal(a.narrow(1, 0, 200), b.narrow(1, 0, 200)));
    QVERIFY(!torch::allclose(a.narrow(1, 200, 100), b.narrow(1, 200, 100)));
  }
}

// RMSNorm on raw rows (sum of squares in f64) against x / sqrt(mean(x^2) + eps) * w in f64, and
// differentiable where a gradient is wanted.
void TestBf16Products::rmsNormMatchesFormula() {
  torch::manual_seed(7);
  const auto x = torch::randn({3, 77, 576}) * 3.0, w = torch::randn({576});
  const auto y = duo::rmsNorm(x, w, 1e-5);
  const auto x64 = x.to(torch::kFloat64);
  const auto ref = x64 * torch::rsqrt(x64.square().mean(-1, true) + 1e-5) * w.to(torch::kFloat64);
  QCOMPARE(y.scalar_type(), torch::kFloat32);
  QVERIFY(relMax(y, ref) < 1e-6);
  // Where autograd records (sensitivity's loss gradients), the gradient flows through it.
  const auto xg = x.clone().requires_grad_(true);
  duo::rmsNorm(xg, w, 1e-5).sum().backward();
  QVERIFY(xg.grad().defined() && xg.grad().abs().sum().item<double>() > 0.0);
}

QTEST_APPLESS_MAIN(TestBf16Products)
#include "test_bf16_products.moc"
