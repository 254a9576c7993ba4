#include "core/prune/obs_solver.h"

#include <algorithm>

#include "core/common/error.h"

namespace duo {

ObsFactor factorObs(const InputStats& stats, const ObsOptions& opts) {
  DUO_CHECK(stats.tokens() > 0, "OBS solver: no calibration inputs were added");
  DUO_CHECK(opts.damping >= 0.0, "OBS solver: damping lambda expected >= 0, got ", opts.damping);
  DUO_CHECK(opts.blockSize >= 1, "OBS solver: block size expected >= 1, got ", opts.blockSize);
  DUO_CHECK(!opts.useResidual || stats.hasResidual(),
            "OBS solver: DuoGPT needs the residual statistics (M, a) but they were not tracked");
  const int64_t k = stats.k();
  ObsFactor f;
  f.residual = opts.useResidual;
  auto H = stats.H().clone();  // [k, k]
  const auto opt = H.options();

  // Step 1: dead inputs (H_jj = 0) get H_jj = 1; their weight columns are zeroed in pruneObs.
  f.dead = H.diagonal().eq(0);  // [k] bool
  H.diagonal().masked_fill_(f.dead, 1.0);

  // Steps 2-3: damping, then U = upper Cholesky factor of H^-1. When H is not positive definite
  // in this precision, raise lambda x10 (at most 4 times) instead of failing the whole run.
  const auto meanDiag = H.diagonal().mean();
  const auto eye = torch::eye(k, opt);  // [k, k]
  double lambda = opts.damping;
  torch::Tensor L;  // [k, k] lower Cholesky factor of the damped H
  for (int attempt = 0;; ++attempt) {
    auto [chol, info] = torch::linalg_cholesky_ex(H + eye * (meanDiag * lambda), /*upper=*/false);
    if (info.item<int64_t>() == 0) {
      L = chol;
      break;
    }
    DUO_CHECK(attempt < 4, "OBS solver: H is not positive definite even with damping ", lambda,
              " (k = ", k, ", ", stats.tokens(), " tokens)");
    lambda = lambda > 0 ? lambda * 10.0 : 1e-6;
  }
  f.dampingUsed = lambda;
  const auto Hinv = torch::cholesky_inverse(L);  // [k, k]
  auto [U, infoU] = torch::linalg_cholesky_ex(Hinv, /*upper=*/true);
  DUO_CHECK(infoU.item<int64_t>() == 0, "OBS solver: H^-1 lost positive definiteness (k = ", k, ")");
  f.U = U;
  const auto d = f.U.diagonal();  // [k] U_jj

  // Step 4: Q = M U^T, b_j = sum_{l>j} Q_jl^2, c_j = Q_jj / U_jj, D = alpha triu(Q, 1) U.
  if (f.residual) {
    auto M = stats.M().clone();  // [k, k]
    M.masked_fill_(f.dead.unsqueeze(0), 0.0);
    const auto Q = torch::mm(M, f.U.t());  // [k, k]
    const auto Qup = Q.triu(1);            // [k, k]
    f.b = Qup.square().sum(1);
    f.c = Q.diagonal() / d;
    f.D = torch::mm(Qup, f.U).mul_(opts.alpha);
    f.a = stats.a().clone();
  } else {
    f.b = torch::zeros({k}, opt);
    f.c = torch::zeros({k}, opt);
    f.a = torch::zeros({k}, opt);
  }

  // Step 5: S_ij = W_ij^2 f_j.
  f.colScore = d.square().reciprocal();  // SparseGPT: 1 / U_jj^2
  if (f.residual && opts.score == Score::Full) f.colScore = f.colScore + 2.0 * f.c + f.a - f.b;
  if (f.residual && opts.score == Score::Marginal) f.colScore = f.colScore + 2.0 * f.c;
  return f;
}

PrunedWeight pruneObs(const torch::Tensor& W, const ObsFactor& f, const ObsOptions& opts, const MaskSpec& spec,
                      const torch::Tensor& fixedKeep) {
  DUO_CHECK(f.U.defined(), "OBS solver: the factor is empty");
  const int64_t k = f.U.size(0);
  DUO_CHECK(W.dim() == 2 && W.size(1) == k, "OBS solver: expected a weight [n, ", k, "], got ", W.sizes());
  checkMaskSpec(spec, k, "OBS solver");
  const int64_t n = W.size(0);
  const int64_t B = opts.blockSize;
  DUO_CHECK(B >= 1, "OBS solver: block size expected >= 1, got ", B);
  const bool nm = spec.nm.structured() && !fixedKeep.defined();
  if (nm) DUO_CHECK(B % spec.nm.m == 0, "OBS solver: block size ", B, " is not a multiple of M = ", spec.nm.m);
  if (fixedKeep.defined())
    DUO_CHECK(fixedKeep.sizes() == W.sizes() && fixedKeep.scalar_type() == torch::kBool,
              "OBS solver: a fixed mask must be bool ", W.sizes(), ", got ", fixedKeep.sizes());

  const auto opt = f.U.options();
  auto Wc = W.detach().to(opt).clone();                            // [n, k] working copy
  Wc.masked_fill_(f.dead.unsqueeze(0), 0.0);                       // step 1: dead columns
  auto keep = torch::ones({n, k}, opt.dtype(torch::kBool));        // [n, k] bool
  const auto fk = fixedKeep.defined() ? fixedKeep.to(opt.device()) : torch::Tensor();

  for (int64_t i1 = 0; i1 < k; i1 += B) {
    const int64_t i2 = std::min(i1 + B, k);
    const int64_t w = i2 - i1;
    auto W1 = Wc.narrow(1, i1, w).clone();                         // [n, w] current block
    auto E = torch::zeros({n, w}, opt);                            // [n, w] scaled errors e
    auto P = f.residual ? torch::zeros({n, w}, opt) : torch::Tensor();  // [n, w] pre-prune values w
    auto K1 = keep.narrow(1, i1, w);                               // [n, w] bool view into keep
    const auto f1 = f.colScore.narrow(0, i1, w);                   // [w]
    if (fk.defined()) K1.copy_(fk.narrow(1, i1, w));
    else if (!nm) K1.copy_(keepAllButLowest(W1.square() * f1, spec.sparsity));  // block quantile
    const auto U1 = f.U.narrow(0, i1, w).narrow(1, i1, w);         // [w, w]
    const auto D1 = f.residual ? f.D.narrow(0, i1, w).narrow(1, i1, w) : torch::Tensor();  // [w, w]

    for (int64_t i = 0; i < w; ++i) {
      if (nm && i % spec.nm.m == 0) {
        const auto g = W1.narrow(1, i, spec.nm.m);                 // [n, M] current weights of the group
        K1.narrow(1, i, spec.nm.m).copy_(keepNm(g.square() * f1.narrow(0, i, spec.nm.m), spec.nm));
      }
      const auto wcol = W1.select(1, i).clone();                   // [n] pre-prune value w
      const auto q = wcol * K1.select(1, i);                       // [n] w with masked rows zeroed
      const auto e = (wcol - q) / U1[i][i];                        // [n] e = (w - q) / U_jj
      if (i + 1 < w) {
        auto rest = W1.narrow(1, i + 1, w - i - 1);                // [n, w-i-1]
        rest.addr_(e, U1[i].narrow(0, i + 1, w - i - 1), 1.0, -1.0);             // -= e U[j, j+1:i2]
        if (f.residual) rest.addr_(wcol, D1[i].narrow(0, i + 1, w - i - 1));    // += w D[j, j+1:i2]
      }
      W1.select(1, i).copy_(q);
      E.select(1, i).copy_(e);
      if (f.residual) P.select(1, i).copy_(wcol);
    }
    Wc.narrow(1, i1, w).copy_(W1);
    if (i2 < k) {
      // Lazy batch update: W[:, i2:] -= E U[i1:i2, i2:] - P D[i1:i2, i2:].
      auto tail = Wc.narrow(1, i2, k - i2);                        // [n, k-i2]
      tail.addmm_(E, f.U.narrow(0, i1, w).narrow(1, i2, k - i2), 1.0, -1.0);
      if (f.residual) tail.addmm_(P, f.D.narrow(0, i1, w).narrow(1, i2, k - i2));
    }
  }
  keep.logical_and_(f.dead.logical_not().unsqueeze(0));
  return {Wc.to(W.options()), keep.to(W.device())};
}

PrunedWeight pruneSparseGpt(const torch::Tensor& W, const InputStats& stats, const MaskSpec& spec, ObsOptions opts) {
  opts.useResidual = false;
  return pruneObs(W, factorObs(stats, opts), opts, spec);
}

PrunedWeight pruneDuoGpt(const torch::Tensor& W, const InputStats& stats, const MaskSpec& spec, ObsOptions opts) {
  opts.useResidual = true;
  return pruneObs(W, factorObs(stats, opts), opts, spec);
}

}  // namespace duo
