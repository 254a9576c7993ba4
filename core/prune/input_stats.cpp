#include "core/prune/input_stats.h"

#include <algorithm>

#include "core/common/error.h"

namespace duo {

namespace {

// H = keep * H + add * S^T S for a symmetric H [k, k] and S [m, k]: row panels from the diagonal
// rightwards (S[:, J]^T S[:, j0:]), then mirrored: about half the flops of one full GEMM.
void symmetricUpdate(torch::Tensor& H, const torch::Tensor& S, double keep, double add) {
  constexpr int64_t kPanel = 512;
  const int64_t k = H.size(0);
  for (int64_t j0 = 0; j0 < k; j0 += kPanel) {
    const int64_t r = std::min(kPanel, k - j0);
    H.narrow(0, j0, r).narrow(1, j0, k - j0).addmm_(S.narrow(1, j0, r).t(), S.narrow(1, j0, k - j0), keep, add);
  }
  for (int64_t j0 = 0; j0 < k; j0 += kPanel) {
    const int64_t r = std::min(kPanel, k - j0);
    auto diag = H.narrow(0, j0, r).narrow(1, j0, r);  // exactly symmetric, like the rest
    diag.copy_(diag.triu() + diag.triu(1).t());
    if (j0 + r < k)
      H.narrow(0, j0 + r, k - j0 - r).narrow(1, j0, r).copy_(H.narrow(0, j0, r).narrow(1, j0 + r, k - j0 - r).t());
  }
}

}  // namespace

InputStats::InputStats(int64_t k, StatsOptions opts) : m_k(k), m_opts(opts) {
  DUO_CHECK(k > 0, "input statistics: expected a positive input width, got ", k);
  DUO_CHECK(opts.dtype == torch::kFloat32 || opts.dtype == torch::kFloat64,
            "input statistics: expected dtype f32 or f64");
  m_opts.trackError = opts.trackError && opts.trackResidual;  // A describes dX: meaningless without it
  DUO_CHECK(!opts.diagonalOnly || !opts.trackResidual,
            "input statistics: the diagonal-only mode keeps no residual statistics");
}

void InputStats::addBatch(const torch::Tensor& xs, const torch::Tensor& xd) {
  DUO_CHECK(xs.dim() >= 1 && xs.size(-1) == m_k, "input statistics: expected inputs [..., ", m_k, "], got ",
            xs.sizes());
  DUO_CHECK(!xd.defined() || m_opts.trackResidual,
            "input statistics: a dense input was given but residual tracking is off");
  if (xd.defined())
    DUO_CHECK(xd.sizes() == xs.sizes(), "input statistics: dense input ", xd.sizes(),
              " does not match the sparsified input ", xs.sizes());
  const auto opt = torch::TensorOptions().device(m_opts.device).dtype(m_opts.dtype);
  const auto s = xs.detach().reshape({-1, m_k}).to(opt);  // [m, k] token-major Xs^T
  const int64_t m = s.size(0);
  if (m == 0) return;
  const double n = static_cast<double>(m_tokens);
  const double keep = n / (n + static_cast<double>(m));
  const double add = 2.0 / (n + static_cast<double>(m));
  if (m_opts.diagonalOnly) {
    if (!m_d.defined()) m_d = torch::zeros({m_k}, opt);
    m_d.mul_(keep).add_(s.square().sum(0), add);  // diag(Xs Xs^T)
    m_tokens += m;
    return;
  }
  if (!m_H.defined()) {
    m_H = torch::zeros({m_k, m_k}, opt);
    if (m_opts.trackResidual) {
      m_M = torch::zeros({m_k, m_k}, opt);
      m_a = torch::zeros({m_k}, opt);
    }
    if (m_opts.trackError) m_A = torch::zeros({m_k, m_k}, opt);
  }
  // Running mean with scale 2/n over all n tokens: old sums shrink by n/(n+m), new ones enter
  // with 2/(n+m) (SparseGPT's convention).
  symmetricUpdate(m_H, s, keep, add);  // H = Xs Xs^T
  torch::Tensor dx;                 // [m, k] dX^T, undefined when dX = 0
  if (xd.defined()) dx = xd.detach().reshape({-1, m_k}).to(opt) - s;
  if (m_opts.trackResidual) {
    if (dx.defined()) {
      m_M.addmm_(dx.t(), s, keep, add);                   // M = dX Xs^T
      m_a.mul_(keep).add_(dx.square().sum(0), add);       // a_j = ||dX_j||^2
    } else {
      m_M.mul_(keep);
      m_a.mul_(keep);
    }
  }
  if (m_opts.trackError) {
    if (dx.defined()) m_A.addmm_(dx.t(), dx, keep, add);  // A = dX dX^T
    else m_A.mul_(keep);
  }
  m_tokens += m;
}

torch::Tensor InputStats::inputNorms() const {
  DUO_CHECK(m_H.defined() || m_d.defined(), "input statistics: no calibration inputs were added");
  return (m_d.defined() ? m_d : m_H.diagonal()).clamp_min(0).sqrt();
}

void InputStats::free() {
  m_H = m_M = m_a = m_A = m_d = torch::Tensor();
  m_tokens = 0;
}

namespace {
// sum(X .* Y) in f64: tr(X Y^T) for equal-shaped X, Y.
double frobDot(const torch::Tensor& x, const torch::Tensor& y) { return (x * y).sum(torch::kFloat64).item<double>(); }
}  // namespace

double relativeOutputError(const InputStats& stats, const torch::Tensor& W, const torch::Tensor& Wp) {
  DUO_CHECK(stats.tokens() > 0, "relative output error: no calibration inputs were added");
  DUO_CHECK(W.dim() == 2 && W.size(1) == stats.k() && Wp.sizes() == W.sizes(),
            "relative output error: expected W and W' [n, ", stats.k(), "], got ", W.sizes(), " and ", Wp.sizes());
  DUO_CHECK(stats.H().defined(), "relative output error: needs the full matrix H, not its diagonal");
  const auto& H = stats.H();
  const auto w = W.detach().to(H.options());          // [n, k]
  const auto dW = Wp.detach().to(H.options()) - w;    // [n, k]
  const auto dWH = torch::mm(dW, H);                  // [n, k]
  double err = frobDot(dWH, dW);                          // tr(dW H dW^T)
  double ref = frobDot(torch::mm(w, H), w);               // tr(W H W^T)
  if (stats.hasResidual()) {
    DUO_CHECK(stats.hasError(), "relative output error: residual statistics need error tracking (A)");
    const auto& M = stats.M();
    const auto& A = stats.A();
    const auto wA = torch::mm(w, A);                  // [n, k]
    const auto wM = torch::mm(w, M);                  // [n, k]  (W M)
    err += -2.0 * frobDot(torch::mm(dW, M.t()), w) + frobDot(wA, w);
    ref += 2.0 * frobDot(wM, w) + frobDot(wA, w);             // tr(W M W^T) = tr(W M^T W^T)
  }
  DUO_CHECK(ref > 0.0, "relative output error: the dense output is zero on the calibration data");
  return std::max(0.0, err) / ref;
}

}  // namespace duo
