// SPDX-License-Identifier: GPL-3.0-or-later
// core/prune methods on whole layers: exact sparsity per block and per N:M group, dead inputs,
// ill-conditioned statistics, the objective ordering DuoGPT < SparseGPT < Wanda, magnitude over
// many seeds (asserted as fractions), and the errors reported for bad input.
#include <QtTest>

#include "core/common/error.h"
#include "core/prune/magnitude.h"
#include "core/prune/obs_solver.h"
#include "core/prune/wanda.h"
#include "test_solver_problem.h"

using duo::test::LayerProblem;
using duo::test::makeProblem;
using duo::test::statsOf;

namespace {
duo::PrunedWeight runMethod(const QString& method, const LayerProblem& p, const duo::InputStats& s,
                            const duo::MaskSpec& spec) {
  if (method == "duogpt") return duo::pruneDuoGpt(p.W, s, spec);
  if (method == "sparsegpt") return duo::pruneSparseGpt(p.W, s, spec);
  if (method == "wanda") return duo::pruneWanda(p.W, s, spec);
  return duo::pruneMagnitude(p.W, spec);
}
}  // namespace

class TestSolverMethods : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Small problems: OpenMP threads only add contention on the shared 2-core machines.
  void initTestCase() { at::set_num_threads(1); }
  void exactSparsityPerBlock_data();
  void exactSparsityPerBlock();
  void nmPerGroup_data();
  void nmPerGroup();
  void deadInputs_data();
  void deadInputs();
  void fewTokensRaisesDamping();
  void updateBeatsMaskOnly();
  void objectiveOrderingOverSeeds();
  void rejectsBadInput();
};

void TestSolverMethods::exactSparsityPerBlock_data() {
  QTest::addColumn<QString>("method");
  QTest::addColumn<double>("p");
  for (const char* m : {"duogpt", "sparsegpt"})
    for (double p : {0.3, 0.5, 0.7}) QTest::newRow(qPrintable(QString("%1 %2").arg(m).arg(p))) << QString(m) << p;
}

// Every n x 128 block (and the last, partial one: k = 320 = 128 + 128 + 64) has exactly
// round(p n B) zeros, in the mask and in the weight.
void TestSolverMethods::exactSparsityPerBlock() {
  QFETCH(QString, method);
  QFETCH(double, p);
  const int64_t n = 24, k = 320;
  const LayerProblem pr = makeProblem(31, n, k, 800, 0.5, 0.2, torch::kFloat32);
  const auto s = statsOf(pr.Xs, pr.Xd, 2, torch::kFloat32);
  const auto r = runMethod(method, pr, s, {p, {}});
  QCOMPARE(r.weight.scalar_type(), torch::kFloat32);
  QVERIFY(torch::isfinite(r.weight).all().item<bool>());
  QVERIFY(torch::equal(r.weight.eq(0), r.keep.logical_not()));
  for (int64_t i1 = 0; i1 < k; i1 += 128) {
    const int64_t w = std::min<int64_t>(128, k - i1);
    QCOMPARE(r.keep.slice(1, i1, i1 + w).logical_not().sum().item<int64_t>(), duo::prunedCount(n * w, p));
  }
}

void TestSolverMethods::nmPerGroup_data() {
  QTest::addColumn<QString>("method");
  QTest::addColumn<QString>("nm");
  for (const char* m : {"duogpt", "sparsegpt", "wanda", "magnitude"})
    for (const char* nm : {"2:4", "4:8"}) QTest::newRow(qPrintable(QString("%1 %2").arg(m, nm))) << QString(m) << QString(nm);
}

void TestSolverMethods::nmPerGroup() {
  QFETCH(QString, method);
  QFETCH(QString, nm);
  const auto pat = duo::parseNm(nm.toStdString());
  const int64_t n = 32, k = 192;
  const LayerProblem pr = makeProblem(32, n, k, 600, 0.5, 0.2, torch::kFloat32);
  const auto s = statsOf(pr.Xs, pr.Xd, 1, torch::kFloat32);
  const auto r = runMethod(method, pr, s, {0.0, pat});
  QVERIFY(r.weight.reshape({n, k / pat.m, pat.m}).eq(0).sum(2).eq(pat.n).all().item<bool>());
  QVERIFY(torch::equal(r.weight.eq(0), r.keep.logical_not()));
}

void TestSolverMethods::deadInputs_data() {
  QTest::addColumn<QString>("method");
  for (const char* m : {"duogpt", "sparsegpt", "wanda"}) QTest::newRow(m) << QString(m);
}

// Inputs that are zero on every calibration token (H_jj = 0, while the dense input is not):
// no NaN, their weight columns come back zero, and the output error stays finite and below the
// error of plain masking.
void TestSolverMethods::deadInputs() {
  QFETCH(QString, method);
  const int64_t n = 16, k = 128;
  LayerProblem pr = makeProblem(33, n, k, 600, 0.5, 0.2, torch::kFloat32);
  const auto deadIdx = torch::tensor({3, 17, 64, 127}, torch::kInt64);
  pr.Xs.index_fill_(1, deadIdx, 0.0);
  const auto s = statsOf(pr.Xs, pr.Xd, 1, torch::kFloat32);
  if (method != "wanda") {
    duo::ObsOptions o;
    o.useResidual = method == "duogpt";
    QCOMPARE(duo::factorObs(s, o).dead.sum().item<int64_t>(), int64_t(4));
  }
  const auto r = runMethod(method, pr, s, {0.5, {}});
  QVERIFY(torch::isfinite(r.weight).all().item<bool>());
  QVERIFY(r.weight.index_select(1, deadIdx).eq(0).all().item<bool>());
  const double err = duo::relativeOutputError(s, pr.W, r.weight);
  QVERIFY(std::isfinite(err));
  QVERIFY(std::abs(err - duo::test::directRelError(r.weight, pr.W, pr.Xs, pr.Xd)) < 1e-3 * err);
}

// Fewer tokens than inputs and no damping: H is singular; the solver raises lambda instead of
// failing, and the result is finite.
void TestSolverMethods::fewTokensRaisesDamping() {
  const LayerProblem pr = makeProblem(34, 8, 128, 40, 0.5, 0.2, torch::kFloat32);
  const auto s = statsOf(pr.Xs, pr.Xd, 1, torch::kFloat32);
  duo::ObsOptions o;
  o.damping = 0.0;
  const auto f = duo::factorObs(s, o);
  QVERIFY(f.dampingUsed > 0.0);
  const auto r = duo::pruneObs(pr.W, f, o, {0.5, {}});
  QVERIFY(torch::isfinite(r.weight).all().item<bool>());
}

// The weight update pays: for DuoGPT and SparseGPT the error after the update is below the
// error of the same mask without it (relErrorMaskOnly of the records). Both include the error of
// activation sparsity alone (dense weights on Xs); the part above it shrinks by at least 20%.
void TestSolverMethods::updateBeatsMaskOnly() {
  const LayerProblem pr = makeProblem(35, 64, 256, 2048, 0.5, 0.2, torch::kFloat32);
  const auto s = statsOf(pr.Xs, pr.Xd, 4, torch::kFloat32);
  const double actOnly = duo::relativeOutputError(s, pr.W, pr.W);
  for (const QString m : {"duogpt", "sparsegpt"}) {
    const auto r = runMethod(m, pr, s, {0.5, {}});
    const double err = duo::relativeOutputError(s, pr.W, r.weight);
    const double maskOnly = duo::relativeOutputError(s, pr.W, pr.W * r.keep);
    qInfo("%s: rel. error %.4f, mask only %.4f, dense weights %.4f", qPrintable(m), err, maskOnly, actOnly);
    QVERIFY(err < maskOnly);
    QVERIFY(err - actOnly < 0.8 * (maskOnly - actOnly));
  }
}

// The objective ||W' Xs - W Xd||^2 over 40 seeds at W50/A50 with inputs perturbed as by earlier
// pruning. Baselines calibrate as published (method section 5): SparseGPT, Wanda and magnitude
// see X with dense activations; "SparseGPT on sparsified inputs" sees Xs with dX = 0; all are
// evaluated on Xs. Not a theorem for every case, so the assertion is on fractions of seeds.
void TestSolverMethods::objectiveOrderingOverSeeds() {
  const int seeds = 40;
  int duoBeatsSg = 0, duoBeatsSgIn = 0, sgBeatsWanda = 0, sgBeatsMag = 0, sgInBeatsSg = 0;
  double sum[5] = {0, 0, 0, 0, 0};
  for (int seed = 0; seed < seeds; ++seed) {
    const LayerProblem pr = makeProblem(1000 + seed, 32, 128, 1024, 0.5, 0.2, torch::kFloat32);
    const auto sDuo = statsOf(pr.Xs, pr.Xd, 1, torch::kFloat32);  // Xs vs Xd
    const auto sDense = statsOf(pr.X, pr.Xd, 1, torch::kFloat32); // X with dense activations
    const duo::MaskSpec spec{0.5, {}};
    const double e[5] = {
        duo::relativeOutputError(sDuo, pr.W, duo::pruneDuoGpt(pr.W, sDuo, spec).weight),
        duo::relativeOutputError(sDuo, pr.W, duo::pruneSparseGpt(pr.W, sDense, spec).weight),
        duo::relativeOutputError(sDuo, pr.W, duo::pruneSparseGpt(pr.W, sDuo, spec).weight),
        duo::relativeOutputError(sDuo, pr.W, duo::pruneWanda(pr.W, sDense, spec).weight),
        duo::relativeOutputError(sDuo, pr.W, duo::pruneMagnitude(pr.W, spec).weight)};
    for (int i = 0; i < 5; ++i) sum[i] += e[i] / seeds;
    duoBeatsSg += e[0] < e[1];
    duoBeatsSgIn += e[0] < e[2];
    sgInBeatsSg += e[2] < e[1];
    sgBeatsWanda += e[1] < e[3];
    sgBeatsMag += e[1] < e[4];
  }
  qInfo("mean rel. error: duogpt %.4f, sparsegpt %.4f, sparsegpt-sparse-in %.4f, wanda %.4f, magnitude %.4f",
        sum[0], sum[1], sum[2], sum[3], sum[4]);
  qInfo("fraction of %d seeds: duo<sg %.2f, duo<sg-sparse-in %.2f, sg-sparse-in<sg %.2f, sg<wanda %.2f, sg<mag %.2f",
        seeds, duoBeatsSg / double(seeds), duoBeatsSgIn / double(seeds), sgInBeatsSg / double(seeds),
        sgBeatsWanda / double(seeds), sgBeatsMag / double(seeds));
  QVERIFY(duoBeatsSg >= 0.9 * seeds);
  QVERIFY(duoBeatsSgIn >= 0.85 * seeds);
  QVERIFY(sgBeatsWanda >= 0.9 * seeds);
  QVERIFY(sgBeatsMag >= 0.9 * seeds);
}

void TestSolverMethods::rejectsBadInput() {
  const LayerProblem pr = makeProblem(36, 8, 64, 200, 0.5, 0.2, torch::kFloat32);
  const auto s = statsOf(pr.Xs, pr.Xd, 1, torch::kFloat32);
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneDuoGpt(torch::randn({8, 63}), s, {0.5, {}}));
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneDuoGpt(pr.W, s, {1.0, {}}));
  duo::ObsOptions o;
  o.blockSize = 6;  // not a multiple of M = 4
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneDuoGpt(pr.W, s, {0.0, {2, 4}}, o));
  duo::StatsOptions so;
  so.trackResidual = false;
  duo::InputStats plain(64, so);
  QVERIFY_THROWS_EXCEPTION(duo::Error, plain.addBatch(pr.Xs, pr.Xd));  // dense input without residual tracking
  plain.addBatch(pr.Xs);
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneDuoGpt(pr.W, plain, {0.5, {}}));  // DuoGPT needs M
  QVERIFY_THROWS_EXCEPTION(duo::Error, plain.addBatch(torch::randn({5, 32})));
  duo::InputStats empty(64);
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::pruneSparseGpt(pr.W, empty, {0.5, {}}));
}

QTEST_APPLESS_MAIN(TestSolverMethods)
#include "test_solver_methods.moc"
