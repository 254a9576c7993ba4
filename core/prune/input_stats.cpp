// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/input_stats.h"

#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>

#include "core/common/bf16_gemm.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/dist/collective.h"
#include "core/prune/stats_rows.h"

namespace duo {

namespace {

// 256 rows skip more of the lower triangle at SmolLM2's widths than 512 did (bench solver,
// statistics: k = 576 38-41 -> 33-35 ms, k = 1536 168-171 -> 153-157 ms) and are level at
// k = 11008 (13.4-14.0 s).
constexpr int64_t kPanel = kStatsPanelRows;
// bf16 products whose results come back rounded to bf16 (LibTorch's own CPU or CUDA bf16 mm):
// tokens per partial sum. Each partial sum is rounded to bf16 (8 bits of mantissa); over n slices
// the relative error of the total falls as 1 / sqrt(n). Unrounded (f32) results take every token of
// a batch in one product, as f32 products do.
constexpr int64_t kBf16SliceTokens = 1024;

// sum += A^T B on and above the diagonal, for sum [k, k] f64 and A, B [m, k]: row panels from the
// diagonal rightwards (A[:, J]^T B[:, j0:], computed in the operands' dtype, added in f64; the
// panels' diagonal squares also get their entries below the diagonal). About half the flops of one
// full GEMM.
void upperAccumulate(torch::Tensor& sum, const torch::Tensor& A, const torch::Tensor& B) {
  const int64_t k = sum.size(0);
  for (int64_t j0 = 0; j0 < k; j0 += kPanel) {
    const int64_t r = std::min(kPanel, k - j0);
    sum.narrow(0, j0, r).narrow(1, j0, k - j0).add_(mmF32(A.narrow(1, j0, r).t(), B.narrow(1, j0, k - j0)));
  }
}

// sum += S^T S for a symmetric sum: its upper part (mirrorUpper fills in the lower triangle when
// the sums are read). f32 operands on the CPU take the BLAS's ssyrk (gramUpperF32: the same
// entries without the panels' wasted lower halves of their diagonal squares), added by the same
// panels.
void symmetricAccumulate(torch::Tensor& sum, const torch::Tensor& S) {
  const torch::Tensor g = gramUpperF32(S);
  if (!g.defined()) return upperAccumulate(sum, S, S);
  const int64_t k = sum.size(0);
  for (int64_t j0 = 0; j0 < k; j0 += kPanel) {
    const int64_t r = std::min(kPanel, k - j0);
    sum.narrow(0, j0, r).narrow(1, j0, k - j0).add_(g.narrow(0, j0, r).narrow(1, j0, k - j0));
  }
}

// sum += A^T B for sum [k, k] f64 and A, B [m, k], a row panel at a time.
void accumulate(torch::Tensor& sum, const torch::Tensor& A, const torch::Tensor& B) {
  const int64_t k = sum.size(0);
  for (int64_t j0 = 0; j0 < k; j0 += kPanel) {
    const int64_t r = std::min(kPanel, k - j0);
    sum.narrow(0, j0, r).add_(mmF32(A.narrow(1, j0, r).t(), B));
  }
}

// The full symmetric matrix from the row panels' upper part: exactly symmetric.
void mirrorUpper(torch::Tensor& H) {
  const int64_t k = H.size(0);
  for (int64_t j0 = 0; j0 < k; j0 += kPanel) {
    const int64_t r = std::min(kPanel, k - j0);
    auto diag = H.narrow(0, j0, r).narrow(1, j0, r);
    diag.copy_(diag.triu() + diag.triu(1).t());
    if (j0 + r < k)
      H.narrow(0, j0 + r, k - j0 - r).narrow(1, j0, r).copy_(H.narrow(0, j0, r).narrow(1, j0 + r, k - j0 - r).t());
  }
}

}  // namespace

double upperSumFlops(int64_t k, int64_t tokens) { return double(tokens) * double(k) * double(k + 1); }

bool bf16ProductsEmulated(const torch::Device& device) {
  static const bool fallback = bf16Products(false).fallback;  // the CPU does not change
  return device.is_cpu() && fallback;
}

torch::Tensor bf16Operand(const torch::Tensor& x, bool emulated) {
  const torch::Tensor b = x.to(torch::kBFloat16);
  return emulated ? b.to(torch::kFloat32) : b;
}

InputStats::InputStats(int64_t k, StatsOptions opts) : m_k(k), m_opts(opts) {
  DUO_CHECK(k > 0, "input statistics: expected a positive input width, got ", k);
  DUO_CHECK(opts.dtype == torch::kFloat32 || opts.dtype == torch::kFloat64,
            "input statistics: expected dtype f32 or f64");
  DUO_CHECK(opts.gemmDtype == torch::kFloat32 || opts.gemmDtype == torch::kBFloat16,
            "input statistics: expected products in f32 or bf16");
  m_opts.trackError = opts.trackError && opts.trackResidual;  // A describes dX: meaningless without it
  DUO_CHECK(!opts.diagonalOnly || !opts.trackResidual,
            "input statistics: the diagonal-only mode keeps no residual statistics");
  DUO_CHECK(!opts.upperM || !m_opts.trackError,
            "input statistics: the exact output error (trackError) needs all of M, not its upper triangle");
}

void InputStats::addBatch(const torch::Tensor& xs, const torch::Tensor& xd) {
  DUO_CHECK(xs.dim() >= 1 && xs.size(-1) == m_k, "input statistics: expected inputs [..., ", m_k, "], got ",
            xs.sizes());
  DUO_CHECK(!xd.defined() || m_opts.trackResidual,
            "input statistics: a dense input was given but residual tracking is off");
  if (xd.defined())
    DUO_CHECK(xd.sizes() == xs.sizes(), "input statistics: dense input ", xd.sizes(),
              " does not match the sparsified input ", xs.sizes());
  DUO_CHECK(!m_final, "input statistics: inputs added after the statistics were read");
  const auto opt = torch::TensorOptions().device(m_opts.device).dtype(m_opts.dtype);
  const auto acc = opt.dtype(torch::kFloat64);
  const auto s = xs.detach().reshape({-1, m_k}).to(opt);  // [m, k] token-major Xs^T
  const int64_t m = s.size(0);
  if (m == 0) return;
  if (m_opts.diagonalOnly) {
    if (!m_sd.defined()) m_sd = torch::zeros({m_k}, acc);
    m_sd.add_(s.square().sum(0));  // diag(Xs Xs^T)
    m_tokens += m;
    return;
  }
  if (!m_sH.defined()) {
    m_sH = torch::zeros({m_k, m_k}, acc);
    if (m_opts.trackResidual) {
      m_sM = torch::zeros({m_k, m_k}, acc);
      m_sa = torch::zeros({m_k}, acc);
    }
    if (m_opts.trackError) m_sA = torch::zeros({m_k, m_k}, acc);
  }
  const bool bf16 = m_opts.gemmDtype == torch::kBFloat16;
  const bool emulated = bf16 && bf16ProductsEmulated(s.device());
  torch::Tensor dx, s16, dx16;  // [m, k] dX^T; the products' operands
  const torch::Tensor d = xd.defined() ? xd.detach().reshape({-1, m_k}).to(opt) : torch::Tensor();
  if (d.defined() && s.device().is_cpu() && s.scalar_type() == torch::kFloat32 && s.is_contiguous() && d.is_contiguous()) {
    // One pass (stats_rows.h): dX, a_j = ||dX_j||^2 and, with unemulated bf16 products, both operands
    // in bf16. a_j's partial sums per block of rows are added in block order (no dependence on the
    // threads).
    constexpr int64_t kRows = 128;
    const int64_t blocks = (m + kRows - 1) / kRows;
    std::vector<double> part(static_cast<size_t>(blocks * m_k), 0.0);
    const bool toBf16 = bf16 && !emulated;
    if (toBf16) {
      s16 = torch::empty({m, m_k}, s.options().dtype(torch::kBFloat16));
      dx16 = torch::empty({m, m_k}, s.options().dtype(torch::kBFloat16));
    } else {
      dx = torch::empty({m, m_k}, s.options());
    }
    const float* ps = s.data_ptr<float>();
    const float* pd = d.data_ptr<float>();
    at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t r0 = blk * kRows, rows = std::min(kRows, m - r0);
        double* colSq = part.data() + blk * m_k;
        if (toBf16)
          residualRowsBf16(ps + r0 * m_k, pd + r0 * m_k, rows, m_k, colSq,
                           reinterpret_cast<std::uint16_t*>(s16.data_ptr<at::BFloat16>()) + r0 * m_k,
                           reinterpret_cast<std::uint16_t*>(dx16.data_ptr<at::BFloat16>()) + r0 * m_k);
        else
          residualRows(ps + r0 * m_k, pd + r0 * m_k, rows, m_k, colSq, dx.data_ptr<float>() + r0 * m_k);
      }
    });
    auto a = torch::zeros({m_k}, torch::kFloat64);
    double* pa = a.data_ptr<double>();
    for (int64_t blk = 0; blk < blocks; ++blk)
      for (int64_t j = 0; j < m_k; ++j) pa[j] += part[static_cast<size_t>(blk * m_k + j)];
    m_sa.add_(a.to(m_sa.device()));
    if (!toBf16 && bf16) {
      s16 = bf16Operand(s, emulated);
      dx16 = bf16Operand(dx, emulated);
    } else if (!bf16) {
      s16 = s;
      dx16 = dx;
    }
  } else {
    if (d.defined()) dx = d - s;
    if (dx.defined()) m_sa.add_(dx.square().sum(0));  // a_j = ||dX_j||^2
    s16 = bf16 ? bf16Operand(s, emulated) : s;
    dx16 = bf16 && dx.defined() ? bf16Operand(dx, emulated) : dx;
  }
  const bool rounded = bf16 && !emulated && !bf16ProductsUnrounded(s.device());  // results in bf16
  const int64_t slice = rounded ? kBf16SliceTokens : m;
  for (int64_t t0 = 0; t0 < m; t0 += slice) {
    const int64_t n = std::min(slice, m - t0);
    const torch::Tensor S = s16.narrow(0, t0, n);
    symmetricAccumulate(m_sH, S);  // H = Xs Xs^T
    if (!dx16.defined()) continue;  // dX = 0 adds nothing to M, a and A
    const torch::Tensor D = dx16.narrow(0, t0, n);
    if (m_opts.trackResidual && m_opts.upperM) upperAccumulate(m_sM, D, S);  // M = dX Xs^T, upper part
    else if (m_opts.trackResidual) accumulate(m_sM, D, S);                  // M = dX Xs^T
    if (m_opts.trackError) symmetricAccumulate(m_sA, D);  // A = dX dX^T
  }
  m_tokens += m;
}

const InputStats& InputStats::finalized() const {
  if (m_final) return *this;
  m_final = true;
  if (m_tokens == 0) return *this;
  const double scale = 2.0 / static_cast<double>(m_tokens);
  auto finish = [&](torch::Tensor& sum, bool symmetric) {
    torch::Tensor out;
    if (!sum.defined()) return out;
    if (symmetric) mirrorUpper(sum);
    out = sum.mul_(scale).to(m_opts.dtype);
    sum = torch::Tensor();  // released before the next one is converted
    return out;
  };
  m_H = finish(m_sH, true);
  m_M = finish(m_sM, false);
  if (m_M.defined() && m_opts.upperM) m_M.triu_();  // the panels' diagonal squares: exactly upper
  m_a = finish(m_sa, false);
  m_A = finish(m_sA, true);
  m_d = finish(m_sd, false);
  return *this;
}

void InputStats::allReduce(Collective& dist) {
  if (dist.size() == 1) return;
  DUO_CHECK(!m_final, "input statistics: all-reduce after the statistics were read");
  const int64_t total = dist.sum(m_tokens);
  DUO_CHECK(total > 0, "input statistics: no calibration tokens on any rank");
  for (torch::Tensor* t : {&m_sH, &m_sM, &m_sa, &m_sA, &m_sd})
    if (t->defined()) dist.allReduceSum(*t);  // f64 sums
  m_tokens = total;
}

torch::Tensor InputStats::inputNorms() const {
  finalized();
  DUO_CHECK(m_H.defined() || m_d.defined(), "input statistics: no calibration inputs were added");
  return (m_d.defined() ? m_d : m_H.diagonal()).clamp_min(0).sqrt();
}

void InputStats::free() {
  m_H = m_M = m_a = m_A = m_d = torch::Tensor();
  m_sH = m_sM = m_sa = m_sA = m_sd = torch::Tensor();
  m_final = false;
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
