// SPDX-License-Identifier: GPL-3.0-or-later
// core/prune OBS solver, mathematical identities of method section 4 checked in float64 on small
// random problems: the statistics, the output error from statistics, the trailing-block inverse,
// one column step against a direct least-squares solve, the score identities, dX = 0 against a
// textbook SparseGPT, the lazy batch update against the unbatched sweep, and f32 against f64.
#include <QtTest>

#include "core/common/error.h"
#include "core/prune/obs_solver.h"
#include "test_solver_problem.h"

using duo::test::LayerProblem;
using duo::test::makeProblem;
using duo::test::statsOf;

namespace {
double maxRelDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item<double>();
}
}  // namespace

class TestSolver : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Small problems: OpenMP threads only add contention on the shared 2-core machines.
  void initTestCase() { at::set_num_threads(1); }
  void statsMatchDirect();
  void relErrorFromStats_data();
  void relErrorFromStats();
  void trailingBlockInverse();
  void columnStepIsLeastSquares_data();
  void columnStepIsLeastSquares();
  void zeroResidualEqualsSparseGpt_data();
  void zeroResidualEqualsSparseGpt();
  void sparseGptMatchesTextbook();
  void lazyBatchEqualsUnbatched_data();
  void lazyBatchEqualsUnbatched();
  void float32MatchesFloat64();
  void widePanelsMatchFullProducts();
  void bf16ProductsNearF32();
  void threadsGiveTheSameSolve();
};

// Running mean over uneven batches equals (2/m) times the full products.
void TestSolver::statsMatchDirect() {
  const LayerProblem p = makeProblem(1, 4, 16, 301, 0.5);
  const auto s = statsOf(p.Xs, p.Xd, 3);
  QCOMPARE(s.tokens(), int64_t(301));
  const double c = 2.0 / 301.0;
  const auto dX = p.Xd - p.Xs;  // [m, k]
  QVERIFY(maxRelDiff(s.H(), c * torch::mm(p.Xs.t(), p.Xs)) < 1e-12);
  QVERIFY(maxRelDiff(s.M(), c * torch::mm(dX.t(), p.Xs)) < 1e-12);
  QVERIFY(maxRelDiff(s.a(), c * dX.square().sum(0)) < 1e-12);
  QVERIFY(maxRelDiff(s.A(), c * torch::mm(dX.t(), dX)) < 1e-12);
  QVERIFY(maxRelDiff(s.inputNorms(), (c * p.Xs.square().sum(0)).sqrt()) < 1e-12);
}

void TestSolver::relErrorFromStats_data() {
  QTest::addColumn<bool>("f64");
  QTest::addColumn<double>("tol");
  QTest::newRow("f64") << true << 1e-10;
  QTest::newRow("f32") << false << 2e-4;
}

// The quadratic form in H, M and A equals the error computed from the inputs, for a weight with
// half its entries pruned and the rest perturbed (like a solver's output).
void TestSolver::relErrorFromStats() {
  QFETCH(bool, f64);
  QFETCH(double, tol);
  const LayerProblem p = makeProblem(2, 24, 64, 512, 0.5);
  const auto s = statsOf(p.Xs, p.Xd, 4, f64 ? torch::kFloat64 : torch::kFloat32);
  const auto keep = torch::rand_like(p.W).gt(0.5);
  const auto Wp = (p.W + 0.1 * torch::randn_like(p.W)) * keep;
  const double direct = duo::test::directRelError(Wp, p.W, p.Xs, p.Xd);
  const double fromStats = duo::relativeOutputError(s, p.W, Wp);
  QVERIFY2(std::abs(fromStats - direct) <= tol * direct, qPrintable(QString("stats %1 direct %2").arg(fromStats).arg(direct)));
  // Unchanged weights: the error is the activation-sparsity error alone, ||W dX||^2 / ||W Xd||^2.
  const double actOnly = duo::relativeOutputError(s, p.W, p.W);
  QVERIFY(std::abs(actOnly - duo::test::directRelError(p.W, p.W, p.Xs, p.Xd)) <= tol * actOnly);
}

// inv(H[j:, j:]) = U[j:, j:]^T U[j:, j:] for every j: one factor serves every step.
void TestSolver::trailingBlockInverse() {
  const LayerProblem p = makeProblem(3, 4, 20, 400, 0.5);
  const auto s = statsOf(p.Xs, p.Xd);
  duo::ObsOptions o;
  o.damping = 0.0;
  const auto f = duo::factorObs(s, o);
  QCOMPARE(f.dampingUsed, 0.0);
  for (int64_t j = 0; j < 20; ++j) {
    const auto Ht = s.H().slice(0, j).slice(1, j);  // [k-j, k-j]
    const auto Ut = f.U.slice(0, j).slice(1, j);
    QVERIFY2(maxRelDiff(torch::mm(Ut.t(), Ut), torch::inverse(Ht)) < 1e-9, qPrintable(QString("j = %1").arg(j)));
  }
}

void TestSolver::columnStepIsLeastSquares_data() {
  QTest::addColumn<int>("j");
  for (int j : {0, 5, 10, 13}) QTest::newRow(qPrintable(QString("j=%1").arg(j))) << j;
}

// One column step with alpha = 1: the update of the later columns, -e U[j, j+1:] + w D[j, j+1:],
// equals the least-squares compensation with column j set to q (pruned: 0, kept: w), later columns
// free and target w Xd_j; and the remaining error is the score identity:
// pruned W_j^2 (1/U_jj^2 + 2c_j + a_j - b_j), kept W_j^2 (a_j - b_j), marginal their difference.
void TestSolver::columnStepIsLeastSquares() {
  QFETCH(int, j);
  const int64_t k = 14, m = 300;
  const LayerProblem p = makeProblem(4, 1, k, m, 0.5);
  const auto s = statsOf(p.Xs, p.Xd);
  duo::ObsOptions o;
  o.damping = 0.0;
  o.alpha = 1.0;
  const auto f = duo::factorObs(s, o);
  const double scale = 2.0 / static_cast<double>(m);  // the statistics' common scale
  const double w = 1.7;
  const double Ujj = f.U[j][j].item<double>();
  const double a = f.a[j].item<double>(), b = f.b[j].item<double>(), c = f.c[j].item<double>();
  const auto Xl = p.Xs.slice(1, j + 1);  // [m, k-j-1] later columns
  double remaining[2] = {0, 0};
  for (int kept = 0; kept < 2; ++kept) {
    const double q = kept ? w : 0.0;
    const auto target = w * p.Xd.select(1, j) - q * p.Xs.select(1, j);  // [m]
    torch::Tensor resid = target;
    if (j + 1 < k) {
      const auto delta = torch::linalg_solve(torch::mm(Xl.t(), Xl), torch::mv(Xl.t(), target));  // [k-j-1]
      const double e = (w - q) / Ujj;
      const auto update = -e * f.U[j].slice(0, j + 1) + w * f.D[j].slice(0, j + 1);
      QVERIFY2(maxRelDiff(update, delta) < 1e-8, qPrintable(QString("kept %1: %2").arg(kept).arg(maxRelDiff(update, delta))));
      resid = target - torch::mv(Xl, delta);
    }
    remaining[kept] = scale * resid.square().sum().item<double>();
  }
  const double pruned = w * w * (1.0 / (Ujj * Ujj) + 2 * c + a - b);
  const double keptErr = w * w * (a - b);
  QVERIFY2(std::abs(remaining[0] - pruned) < 1e-9 * remaining[0], qPrintable(QString("%1 vs %2").arg(remaining[0]).arg(pruned)));
  QVERIFY2(std::abs(remaining[1] - keptErr) < 1e-9 * remaining[0], qPrintable(QString("%1 vs %2").arg(remaining[1]).arg(keptErr)));
  // The scores the solver ranks with.
  QVERIFY(std::abs(f.colScore[j].item<double>() * w * w - pruned) < 1e-9 * pruned);
  duo::ObsOptions om = o;
  om.score = duo::Score::Marginal;
  const auto fm = duo::factorObs(s, om);
  QVERIFY(std::abs(fm.colScore[j].item<double>() * w * w - (pruned - keptErr)) < 1e-9 * pruned);
  om.score = duo::Score::SparseGpt;
  QVERIFY(std::abs(duo::factorObs(s, om).colScore[j].item<double>() - 1.0 / (Ujj * Ujj)) < 1e-9 / (Ujj * Ujj));
}

void TestSolver::zeroResidualEqualsSparseGpt_data() {
  QTest::addColumn<int>("score");
  QTest::addColumn<double>("alpha");
  QTest::addColumn<QString>("nm");
  QTest::newRow("full a=0.5") << int(duo::Score::Full) << 0.5 << "";
  QTest::newRow("marginal a=1") << int(duo::Score::Marginal) << 1.0 << "";
  QTest::newRow("full 2:4") << int(duo::Score::Full) << 0.5 << "2:4";
}

// With dX = 0 (dense input == sparsified input) DuoGPT is SparseGPT, whatever score and alpha.
void TestSolver::zeroResidualEqualsSparseGpt() {
  QFETCH(int, score);
  QFETCH(double, alpha);
  QFETCH(QString, nm);
  const LayerProblem p = makeProblem(5, 16, 96, 400, 0.5);
  const auto s = statsOf(p.Xs, p.Xs, 2);  // Xd = Xs
  QVERIFY(s.M().abs().max().item<double>() == 0.0);
  duo::ObsOptions o;
  o.score = static_cast<duo::Score>(score);
  o.alpha = alpha;
  o.blockSize = 32;
  duo::MaskSpec spec{0.5, duo::parseNm(nm.toStdString())};
  const auto duoR = duo::pruneDuoGpt(p.W, s, spec, o);
  const auto sgR = duo::pruneSparseGpt(p.W, s, spec, o);
  QVERIFY(torch::equal(duoR.keep, sgR.keep));
  QVERIFY(maxRelDiff(duoR.weight, sgR.weight) < 1e-12);
}

// Our SparseGPT (one Cholesky factor, lazy batches) against a textbook OBS sweep that inverts the
// trailing block of H at every column: same masks, same weights.
void TestSolver::sparseGptMatchesTextbook() {
  const int64_t n = 8, k = 48, B = 16;
  const LayerProblem p = makeProblem(6, n, k, 200, 0.0);
  duo::StatsOptions so;
  so.dtype = torch::kFloat64;
  so.trackResidual = false;
  duo::InputStats s(k, so);
  s.addBatch(p.X);
  duo::ObsOptions o;
  o.blockSize = B;
  const duo::MaskSpec spec{0.5, {}};
  const auto ours = duo::pruneSparseGpt(p.W, s, spec, o);

  auto H = s.H().clone();  // [k, k]
  H += 0.01 * H.diagonal().mean() * torch::eye(k, H.options());
  auto W = p.W.clone();    // [n, k]
  auto keep = torch::ones({n, k}, torch::kBool);
  for (int64_t i1 = 0; i1 < k; i1 += B) {
    auto S = torch::zeros({n, B}, H.options());
    for (int64_t j = i1; j < i1 + B; ++j)
      S.select(1, j - i1).copy_(W.select(1, j).square() / torch::inverse(H.slice(0, j).slice(1, j))[0][0]);
    keep.slice(1, i1, i1 + B).copy_(duo::keepAllButLowest(S, 0.5));
    for (int64_t j = i1; j < i1 + B; ++j) {
      const auto Hi = torch::inverse(H.slice(0, j).slice(1, j));  // [k-j, k-j]
      const auto w = W.select(1, j).clone();
      const auto q = w * keep.select(1, j);
      W.slice(1, j) -= torch::outer((w - q) / Hi[0][0], Hi[0]);   // OBS: delta = -(w-q)/[H^-1]_jj H^-1[j, :]
      W.select(1, j).copy_(q);
    }
  }
  QVERIFY(torch::equal(ours.keep, keep));
  QVERIFY2(maxRelDiff(ours.weight, W) < 1e-10, qPrintable(QString::number(maxRelDiff(ours.weight, W))));
}

void TestSolver::lazyBatchEqualsUnbatched_data() {
  QTest::addColumn<int>("blockSize");
  for (int b : {7, 32, 128}) QTest::newRow(qPrintable(QString("B=%1").arg(b))) << b;
}

// With one mask, the lazy batch update (pre-prune values P in the residual term) gives the
// unbatched sweep (B = 1) to rounding.
void TestSolver::lazyBatchEqualsUnbatched() {
  QFETCH(int, blockSize);
  const LayerProblem p = makeProblem(7, 12, 96, 500, 0.5);
  const auto s = statsOf(p.Xs, p.Xd);
  duo::ObsOptions o;
  const auto f = duo::factorObs(s, o);
  const duo::MaskSpec spec{0.6, {}};
  const auto mask = duo::pruneObs(p.W, f, o, spec).keep;  // B = 128 choice, then fixed
  o.blockSize = 1;
  const auto sweep = duo::pruneObs(p.W, f, o, spec, mask);
  o.blockSize = blockSize;
  const auto lazy = duo::pruneObs(p.W, f, o, spec, mask);
  QVERIFY(torch::equal(lazy.keep, mask));
  QVERIFY2(maxRelDiff(lazy.weight, sweep.weight) < 1e-11, qPrintable(QString::number(maxRelDiff(lazy.weight, sweep.weight))));
}

// float32 statistics and solve (the default) give the float64 result's error to 1e-3 relative on
// a layer of realistic width: f64 is not needed in the solver.
void TestSolver::float32MatchesFloat64() {
  const LayerProblem p = makeProblem(8, 64, 384, 3000, 0.5);
  const duo::MaskSpec spec{0.5, {}};
  const auto s64 = statsOf(p.Xs, p.Xd, 3, torch::kFloat64);
  const auto s32 = statsOf(p.Xs.to(torch::kFloat32), p.Xd.to(torch::kFloat32), 3, torch::kFloat32);
  const auto r64 = duo::pruneDuoGpt(p.W, s64, spec);
  const auto r32 = duo::pruneDuoGpt(p.W.to(torch::kFloat32), s32, spec);
  QCOMPARE(r32.weight.scalar_type(), torch::kFloat32);
  const double e64 = duo::relativeOutputError(s64, p.W, r64.weight);
  const double e32 = duo::test::directRelError(r32.weight, p.W, p.Xs, p.Xd);
  const double agree = (r32.keep == r64.keep).to(torch::kFloat64).mean().item<double>();
  qInfo("rel. error f64 %.6f, f32 %.6f; masks agree on %.4f of entries", e64, e32, agree);
  QVERIFY(std::abs(e32 - e64) < 1e-3 * e64);
  QVERIFY(agree > 0.99);
}

// Past one 512-wide panel: H's symmetric panel update, Wanda's diagonal-only statistics and the
// factor's triangular panel products equal the full products; the factor that takes H equals the
// one that copies it.
void TestSolver::widePanelsMatchFullProducts() {
  const int64_t k = 1100;  // statistics' panels of 128 rows, products' blocks of 128 and 256: the last ones partial
  const LayerProblem p = makeProblem(7, 8, k, 1300, 0.5);
  const auto s = statsOf(p.Xs, p.Xd, 3);
  const double c = 2.0 / 1300.0;
  QVERIFY(maxRelDiff(s.H(), c * torch::mm(p.Xs.t(), p.Xs)) < 1e-12);
  QVERIFY(torch::equal(s.H(), s.H().t()));

  duo::StatsOptions diag;
  diag.dtype = torch::kFloat64;
  diag.trackResidual = false;
  diag.diagonalOnly = true;
  duo::InputStats d(k, diag);
  d.addBatch(p.Xs.slice(0, 0, 700));
  d.addBatch(p.Xs.slice(0, 700, 1300));
  QVERIFY(!d.H().defined());
  QVERIFY(maxRelDiff(d.inputNorms(), s.inputNorms()) < 1e-12);

  duo::ObsOptions o;
  o.useResidual = true;
  const duo::ObsFactor f = duo::factorObs(s, o);
  // D = alpha triu(M U^T, 1) U and c_j = (M U^T)_jj / U_jj with full products.
  const auto Q = torch::mm(s.M(), f.U.t());
  QVERIFY(maxRelDiff(f.D, o.alpha * torch::mm(Q.triu(1), f.U)) < 1e-10);
  QVERIFY(maxRelDiff(f.c, Q.diagonal() / f.U.diagonal()) < 1e-10);
  QVERIFY(maxRelDiff(f.b, Q.triu(1).square().sum(1)) < 1e-10);

  // U, the triangular inverse by halves (three levels, products in blocks of 256 with a partial
  // one, skipping the zero halves), is H^-1's upper factor.
  duo::ObsOptions undamped;
  undamped.damping = 0.0;
  const torch::Tensor U = duo::factorObs(s, undamped).U;
  QVERIFY(torch::equal(U.tril(-1), torch::zeros_like(U)));
  QVERIFY(maxRelDiff(torch::mm(U.t(), U), torch::inverse(s.H())) < 1e-9);

  // M's upper triangle only (as calibration accumulates it, row panels from the diagonal): the
  // same factor, since Q's upper triangle never reads M below its diagonal.
  duo::StatsOptions upper;
  upper.dtype = torch::kFloat64;
  upper.trackError = false;
  upper.upperM = true;
  duo::InputStats su(k, upper);
  for (int b = 0; b < 3; ++b) su.addBatch(p.Xs.slice(0, 1300 * b / 3, 1300 * (b + 1) / 3), p.Xd.slice(0, 1300 * b / 3, 1300 * (b + 1) / 3));
  QVERIFY(torch::equal(su.M().tril(-1), torch::zeros_like(su.M())));
  QVERIFY(maxRelDiff(su.M(), s.M().triu()) < 1e-12);
  const duo::ObsFactor fu = duo::factorObs(su, o);
  QVERIFY(maxRelDiff(fu.D, f.D) < 1e-10 && maxRelDiff(fu.c, f.c) < 1e-10 && maxRelDiff(fu.b, f.b) < 1e-10);
  upper.trackError = true;  // the exact output error needs all of M
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::InputStats(k, upper).tokens());

  duo::InputStats s2 = statsOf(p.Xs, p.Xd, 3);
  const duo::ObsFactor g = duo::factorObs(std::move(s2), o);
  QVERIFY(!s2.H().defined());
  QVERIFY(torch::equal(f.U, g.U) && torch::equal(f.D, g.D) && torch::equal(f.colScore, g.colScore));
}

// Statistics from bf16 products (f32 accumulation inside each, 1024-token slices added in f64):
// within bf16's rounding of the f64 products, in Frobenius norm, over several slices and panels;
// and the solve from them prunes almost the same weights as the solve from f32 statistics.
void TestSolver::bf16ProductsNearF32() {
  const int64_t k = 600, m = 3000;  // two panels, three slices (the last one partial)
  const LayerProblem p = makeProblem(9, 48, k, m, 0.5);
  duo::StatsOptions so;
  so.gemmDtype = torch::kBFloat16;
  duo::InputStats s(k, so);
  s.addBatch(p.Xs.slice(0, 0, 2500).to(torch::kFloat32), p.Xd.slice(0, 0, 2500).to(torch::kFloat32));
  s.addBatch(p.Xs.slice(0, 2500, m).to(torch::kFloat32), p.Xd.slice(0, 2500, m).to(torch::kFloat32));
  const double c = 2.0 / double(m);
  const auto dX = p.Xd - p.Xs;
  auto frobRel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a.to(torch::kFloat64) - b).norm() / b.norm()).item<double>();
  };
  const double eH = frobRel(s.H(), c * torch::mm(p.Xs.t(), p.Xs));
  const double eM = frobRel(s.M(), c * torch::mm(dX.t(), p.Xs));
  const double eA = frobRel(s.A(), c * torch::mm(dX.t(), dX));
  qInfo("bf16 statistics, relative Frobenius error: H %.2e, M %.2e, A %.2e", eH, eM, eA);
  QVERIFY2(eH < 4e-3 && eM < 4e-3 && eA < 4e-3, "bf16 products drifted beyond their rounding");
  QVERIFY(torch::equal(s.H(), s.H().t()));
  QVERIFY(s.a().to(torch::kFloat64).allclose(c * dX.square().sum(0), 1e-5, 0));  // a stays f32

  // The solve: masks from bf16 and f32 statistics agree on nearly every weight.
  const duo::InputStats s32 = statsOf(p.Xs.to(torch::kFloat32), p.Xd.to(torch::kFloat32), 2, torch::kFloat32);
  duo::ObsOptions obs;
  const duo::MaskSpec spec{0.5, {}};
  const auto W = p.W.to(torch::kFloat32);
  const auto r16 = duo::pruneObs(W, duo::factorObs(s, obs), obs, spec);
  const auto r32 = duo::pruneObs(W, duo::factorObs(s32, obs), obs, spec);
  const double agree = r16.keep.eq(r32.keep).to(torch::kFloat64).mean().item<double>();
  qInfo("bf16 against f32 statistics: masks agree on %.4f of the weights", agree);
  QVERIFY(agree > 0.97);
}

// The f32 CPU sweep splits W's rows into one slice per thread (at least 128 rows each, on 16-row
// boundaries), each with its own single-threaded products: one thread and three give the same
// weights and masks, for both methods, with and without int8 values.
void TestSolver::threadsGiveTheSameSolve() {
  const LayerProblem p = makeProblem(21, 700, 320, 900, 0.5, 0.2, torch::kFloat32);  // 3 slices of 700 rows
  const auto s = statsOf(p.Xs, p.Xd, 2, torch::kFloat32);
  const duo::MaskSpec spec{0.5, {}};
  for (const bool residual : {true, false})
    for (const bool int8 : {false, true}) {
      duo::ObsOptions o;
      o.useResidual = residual;
      o.int8Values = int8;
      at::set_num_threads(1);
      const auto f = duo::factorObs(s, o);
      const auto one = duo::pruneObs(p.W, f, o, spec);
      at::set_num_threads(3);
      const auto three = duo::pruneObs(p.W, f, o, spec);
      at::set_num_threads(1);
      const QString what = QString("residual %1, int8 %2").arg(residual).arg(int8);
      QVERIFY2(torch::equal(three.keep, one.keep), qPrintable(what));
      QVERIFY2(maxRelDiff(three.weight, one.weight) < 1e-6,
               qPrintable(what + QString(": %1").arg(maxRelDiff(three.weight, one.weight))));
      QCOMPARE(one.keep.logical_not().sum().item<int64_t>(), duo::prunedCount(p.W.numel(), 0.5));
    }
}

QTEST_APPLESS_MAIN(TestSolver)
#include "test_solver.moc"
