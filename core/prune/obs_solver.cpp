// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/obs_solver.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include <ATen/Parallel.h>

#include "core/common/clones.h"
#include "core/common/error.h"
#include "core/prune/int8_grid.h"

namespace duo {

namespace {

double wallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Adds the time since the last lap to a phase of the profile (nothing when there is none).
class PhaseClock {
 public:
  PhaseClock(ObsProfile* p, torch::Device d) : m_p(p), m_cuda(d.is_cuda()) {
    if (m_p) m_t = now();
  }
  void lap(double ObsProfile::*phase) {
    if (!m_p) return;
    const double t = now();
    m_p->*phase += t - m_t;
    m_t = t;
  }
  // The time since the last lap shared between two phases in the ratio a : b (work of both that ran
  // interleaved on several threads, a and b as one thread timed them).
  void lapSplit(double ObsProfile::*pa, double ObsProfile::*pb, double a, double b) {
    if (!m_p) return;
    const double t = now(), share = a + b > 0 ? a / (a + b) : 1.0;
    m_p->*pa += (t - m_t) * share;
    m_p->*pb += (t - m_t) * (1.0 - share);
    m_t = t;
  }

 private:
  double now() const {
    if (m_cuda) torch::cuda::synchronize();
    return wallSeconds();
  }
  ObsProfile* m_p;
  bool m_cuda;
  double m_t = 0;
};

// Columns swept one at a time between lazy updates inside a mask block: the per-column rank-1
// updates touch only this many rows of the transposed block, the rest is a GEMM.
constexpr int64_t kSweepColumns = 32;
// The least rows of W a thread of the raw sweep takes (fewer threads below twice this many rows).
constexpr int64_t kMinSliceRows = 128;

// The int8 grid of the sweep (ObsOptions::int8Values): each row's scale and pinned magnitude [n],
// the block's [w, n] marks of the pinned entries (row stride n), whether the pinned entries take
// that magnitude (the second pass) or are rounded like the others (the first), and where each row's
// pinned entry's value before rounding is written [n].
struct Int8Grid {
  const float* scale = nullptr;
  const float* top = nullptr;
  const bool* pin = nullptr;
  bool forcePin = false;
  float* seen = nullptr;
};

// a where the byte is 1, b where it is 0, without a branch (a bool is 0 or 1): GCC vectorises it
// where a branch on the byte would keep the loop scalar.
inline float pick(uint8_t first, float a, float b) {
  uint32_t ua, ub;
  std::memcpy(&ua, &a, sizeof ua);
  std::memcpy(&ub, &b, sizeof ub);
  const uint32_t m = 0u - static_cast<uint32_t>(first);
  const uint32_t u = (ua & m) | (ub & ~m);
  float q;
  std::memcpy(&q, &u, sizeof q);
  return q;
}

// w where the mask byte is 1, +0 where it is 0.
inline float keptOrZero(float w, uint8_t keep) { return pick(keep, w, 0.0f); }

// The int8 grid point of w (clamped to +-127 steps).
inline float gridValue(float w, float scale) {
  const float k = std::min(127.0f, std::max(-127.0f, std::nearbyint(w / scale)));
  return k * scale;
}

// The sweep of columns [s1, s2) of a mask block on the CPU in f32 for the rows [c0, c1) of W (the
// columns of the transposed block), without a tensor operation per column, on the calling thread.
// Rows of W are independent in the sweep (each row's errors only update that row's later columns),
// and every inner loop runs along contiguous memory of the transposed block, kSlice rows of W at a
// time. The arithmetic is the tensor path's, term by term.
//   W1 [w, n] the transposed block (row stride n), K1 [w, n] its mask, E and P [w, n] outputs (P
//   only with the residual), U1 and D1 the block's [w, w] corners of U and D (row stride ldu).
template <bool kInt8>
#if defined(__GNUC__)
__attribute__((always_inline))  // into each DUO_CLONES wrapper below, compiled for that ISA
#endif
inline void sweepRowsImpl(float* W1, const bool* K1, float* E, float* P, const float* U1, const float* D1,
                          int64_t ldu, int64_t n, int64_t c0, int64_t c1, int64_t s1, int64_t s2, const Int8Grid& grid) {
  constexpr int64_t kSlice = 256;  // rows of W at a time: s2 - s1 rows of this many floats stay in L1/L2
  for (int64_t r0 = c0; r0 < c1; r0 += kSlice) {
    const int64_t len = std::min(kSlice, c1 - r0);
    for (int64_t i = s1; i < s2; ++i) {
      float* row = W1 + i * n + r0;
      const bool* keep = K1 + i * n + r0;
      float* e = E + i * n + r0;
      float* p = P ? P + i * n + r0 : nullptr;
      const float uii = U1[i * ldu + i];
      if constexpr (kInt8) {
        const float* sc = grid.scale + r0;
        const float* top = grid.top + r0;
        const bool* pin = grid.pin + i * n + r0;
        for (int64_t r = 0; r < len; ++r)  // the pinned entries' values as the sweep meets them (one per row of W)
          if (pin[r]) grid.seen[r0 + r] = row[r];
        // Without branches, so that it vectorises: the grid point, or the pinned magnitude with w's
        // sign where the entry is pinned and this pass pins, then zero where the mask prunes.
        const auto* keep8 = reinterpret_cast<const uint8_t*>(keep);
        const auto* pin8 = reinterpret_cast<const uint8_t*>(pin);
        const uint8_t force = grid.forcePin ? 1 : 0;
        float* pp = p ? p : e;  // without the residual the pre-prune value is not kept: written, then overwritten
#pragma omp simd
        for (int64_t r = 0; r < len; ++r) {
          const float w = row[r];
          const float pinned = std::copysign(top[r], w);
          const float g = gridValue(w, sc[r]);
          const float q = keptOrZero(pick(pin8[r] & force, pinned, g), keep8[r]);
          pp[r] = w;
          e[r] = (w - q) / uii;
          row[r] = q;
        }
      } else {  // (a store under a condition, or a branch on the mask, would keep GCC from vectorising)
        const auto* keep8 = reinterpret_cast<const uint8_t*>(keep);
        float* pp = p ? p : e;  // as above
#pragma omp simd
        for (int64_t r = 0; r < len; ++r) {
          const float w = row[r];
          const float q = keptOrZero(w, keep8[r]);
          pp[r] = w;
          e[r] = (w - q) / uii;
          row[r] = q;
        }
      }
      for (int64_t j = i + 1; j < s2; ++j) {
        float* later = W1 + j * n + r0;
        const float u = U1[i * ldu + j];
        if (p) {  // both terms in one pass over the row, each rounded as in two
          const float dd = D1[i * ldu + j];
#pragma omp simd
          for (int64_t r = 0; r < len; ++r) {
            const float v = later[r] - u * e[r];
            later[r] = v + dd * p[r];
          }
        } else {
#pragma omp simd
          for (int64_t r = 0; r < len; ++r) later[r] -= u * e[r];
        }
      }
    }
  }
}

// The sweep for plain f32 values and for int8 values, each built for AVX2 beside the baseline
// (DUO_CLONES: 8 lanes instead of SSE2's 4, the same roundings: no FMA contraction in either).
DUO_CLONES void sweepRowsF32(float* W1, const bool* K1, float* E, float* P, const float* U1, const float* D1,
                             int64_t ldu, int64_t n, int64_t c0, int64_t c1, int64_t s1, int64_t s2) {
  sweepRowsImpl<false>(W1, K1, E, P, U1, D1, ldu, n, c0, c1, s1, s2, Int8Grid{});
}
DUO_CLONES void sweepRowsInt8(float* W1, const bool* K1, float* E, float* P, const float* U1, const float* D1,
                              int64_t ldu, int64_t n, int64_t c0, int64_t c1, int64_t s1, int64_t s2,
                              const Int8Grid& grid) {
  sweepRowsImpl<true>(W1, K1, E, P, U1, D1, ldu, n, c0, c1, s1, s2, grid);
}

// Products with a triangular factor that skip its zero half: the factor is cut into blocks of kTri
// rows (or columns), and each block meets only the part of the other operand its non-zeros reach
// (a block's GEMM still multiplies the few zeros inside its own diagonal square). m^2 p flops for a
// triangular [m, m] times [m, p] instead of a full GEMM's 2 m^2 p. A factor of at most kTri rows
// is one GEMM, as before; beyond that the sums add up in another order (results differ in the last
// bits).
constexpr int64_t kTri = 256;

// out [m, p] = T X for a triangular T [m, m] (upper or lower) and X [m, p], by row blocks of T of
// `block` rows, each product written straight into its rows of `out`.
void triTimesInto(const torch::Tensor& T, bool upper, const torch::Tensor& X, torch::Tensor out, int64_t block = kTri) {
  const int64_t m = T.size(0);
  for (int64_t r0 = 0; r0 < m; r0 += block) {
    const int64_t t = std::min(block, m - r0);
    const int64_t from = upper ? r0 : 0, to = upper ? m : r0 + t;  // the row block's non-zero columns
    auto rows = out.narrow(0, r0, t);
    at::mm_out(rows, T.narrow(0, r0, t).narrow(1, from, to - from), X.narrow(0, from, to - from));
  }
}

// out [p, m] = X L for X [p, m] and a lower-triangular L [m, m], by column blocks of L.
void timesLowerInto(const torch::Tensor& X, const torch::Tensor& L, torch::Tensor out) {
  const int64_t m = L.size(0);
  for (int64_t c0 = 0; c0 < m; c0 += kTri) {
    const int64_t t = std::min(kTri, m - c0);  // column block [c0, c0 + t): non-zero in rows c0..m
    auto cols = out.narrow(1, c0, t);
    at::mm_out(cols, X.narrow(1, c0, m - c0), L.narrow(0, c0, m - c0).narrow(1, c0, t));
  }
}

// The inverse of a lower-triangular L [k, k] into `out` (same shape, may be a view), by halves:
// for L = [[A, 0], [B, D]], L^-1 = [[A^-1, 0], [-D^-1 B A^-1, D^-1]]. The two products of each level
// skip the zero halves of A^-1 and D^-1, k^3/3 flops in all as matrix products (LAPACK's trtri's
// count, at a GEMM's rate; a triangular solve against the identity, which does not know its
// right-hand side is triangular, is k^3). Blocks of at most kInvBase columns are solved directly.
constexpr int64_t kInvBase = 128;
void invertLowerInto(const torch::Tensor& L, torch::Tensor out) {
  const int64_t k = L.size(0);
  if (k <= kInvBase) {
    out.copy_(torch::linalg_solve_triangular(L, torch::eye(k, L.options()), /*upper=*/false));
    return;
  }
  const int64_t h = (k / 2 + 31) / 32 * 32;  // a multiple of 32 keeps the products' panels aligned
  auto Ai = out.narrow(0, 0, h).narrow(1, 0, h);
  auto Di = out.narrow(0, h, k - h).narrow(1, h, k - h);
  invertLowerInto(L.narrow(0, 0, h).narrow(1, 0, h), Ai);
  invertLowerInto(L.narrow(0, h, k - h).narrow(1, h, k - h), Di);
  out.narrow(0, 0, h).narrow(1, h, k - h).zero_();
  const auto B = L.narrow(0, h, k - h).narrow(1, 0, h);  // [k-h, h]
  auto BAi = torch::empty({k - h, h}, L.options());
  timesLowerInto(B, Ai, BAi);
  auto lower = out.narrow(0, h, k - h).narrow(1, 0, h);
  triTimesInto(Di, /*upper=*/false, BAi, lower);
  lower.neg_();
}

}  // namespace

namespace {

void checkFactorInputs(const InputStats& stats, const ObsOptions& opts) {
  DUO_CHECK(stats.tokens() > 0 && stats.H().defined(), "OBS solver: no calibration inputs were added");
  DUO_CHECK(opts.damping >= 0.0, "OBS solver: damping lambda expected >= 0, got ", opts.damping);
  DUO_CHECK(opts.blockSize >= 1, "OBS solver: block size expected >= 1, got ", opts.blockSize);
  DUO_CHECK(!opts.useResidual || stats.hasResidual(),
            "OBS solver: DuoGPT needs the residual statistics (M, a) but they were not tracked");
}

// H is owned (damped in place, released after its factorisation); at most four k x k matrices are
// alive at once (U, M, Q's upper triangle, D).
ObsFactor factorImpl(torch::Tensor H, const InputStats& stats, const ObsOptions& opts) {
  const int64_t k = H.size(0);
  ObsFactor f;
  f.residual = opts.useResidual;
  const auto opt = H.options();
  PhaseClock clock(opts.profile, H.device());

  // Step 1: dead inputs (H_jj = 0) get H_jj = 1; their weight columns are zeroed in pruneObs.
  f.dead = H.diagonal().eq(0);  // [k] bool
  H.diagonal().masked_fill_(f.dead, 1.0);

  // Steps 2-3: damping, then U = upper Cholesky factor of H^-1. When H is not positive definite
  // in this precision, raise lambda x10 (at most 4 times) instead of failing the whole run.
  // U comes from one Cholesky factorisation and the inverse of its triangular factor: with P the
  // exchange matrix (P X P reverses rows and columns), P H P = C C^T gives
  // H^-1 = (P C^-1 P)^T (P C^-1 P), and P C^-1 P is upper triangular with a positive diagonal, so it
  // is U.
  const auto meanDiag = H.diagonal().mean();
  H = H.flip({0, 1});  // P H P (the damping below commutes with P: it only touches the diagonal)
  double lambda = opts.damping, applied = 0.0;
  torch::Tensor C;  // [k, k] lower Cholesky factor of the damped P H P
  for (int attempt = 0;; ++attempt) {
    H.diagonal().add_(meanDiag * (lambda - applied));
    applied = lambda;
    auto [chol, info] = torch::linalg_cholesky_ex(H, /*upper=*/false);
    if (info.item<int64_t>() == 0) {
      C = chol;
      break;
    }
    DUO_CHECK(attempt < 4, "OBS solver: H is not positive definite even with damping ", lambda,
              " (k = ", k, ", ", stats.tokens(), " tokens)");
    lambda = lambda > 0 ? lambda * 10.0 : 1e-6;
  }
  H = torch::Tensor();
  f.dampingUsed = lambda;
  clock.lap(&ObsProfile::cholesky);
  // At most two k x k matrices at once: C and C^-1 (then C^-1 and U), and half-size products.
  torch::Tensor Cinv = torch::empty({k, k}, opt);
  invertLowerInto(C, Cinv);
  C = torch::Tensor();
  f.U = Cinv.flip({0, 1}).contiguous();  // the raw sweep needs U row-major
  Cinv = torch::Tensor();
  DUO_CHECK(f.U.diagonal().isfinite().all().item<bool>(), "OBS solver: H^-1's factor is not finite (k = ", k, ")");
  const auto d = f.U.diagonal();  // [k] U_jj
  clock.lap(&ObsProfile::inverse);

  // Step 4: Q = M U^T, b_j = sum_{l>j} Q_jl^2, c_j = Q_jj / U_jj, D = alpha triu(Q, 1) U. Only Q's
  // upper triangle is needed and U is upper triangular, so both products skip what they can (exact:
  // the skipped terms are products with zeros of U or of triu(Q)): Q's column block C = [c0, c1)
  // needs rows 0..c1 of M and, U's rows in C being zero left of c0, only M's columns c0..k:
  // Q[:c1, C] = M[:c1, c0:] U[C, c0:]^T; D's column block needs U's rows 0..c1 only, times the upper-
  // triangular triu(Q, 1)[:c1, :c1]. k^3/3 flops each (a full product would be 2k^3).
  // Q's upper triangle never needs M below its diagonal (Q_ij, j >= i, sums M_im U_jm over m >= j),
  // so InputStats' upperM accumulates only M's upper triangle (zeros below, which the blocks read).
  if (f.residual) {
    torch::Tensor M = stats.M();  // [k, k]
    if (f.dead.any().item<bool>()) M = M.masked_fill(f.dead.unsqueeze(0), 0.0);
    // Square blocks (columns of Q and D, rows of D): the products' only waste is the lower half of
    // the diagonal blocks. Up to k = 2048, blocks of 128 skip more of it while the products stay
    // large enough for the BLAS: `bench solver --k 1536|576 --n 64 --tokens 2048 --threads 2
    // --repeat 7`, fastest of six runs alternating with blocks of 256: residual 23.6 -> 21.5 ms at
    // k = 1536, 2.2 -> 1.7 ms at k = 576. Beyond, the [128, 128] blocks of D against depths of
    // thousands are too small for two threads (k = 4096: 0.33 -> 0.55 s): blocks of 256.
    const int64_t panel = k <= 2048 ? 128 : 256;
    auto Qup = torch::zeros({k, k}, opt);  // [k, k] Q on and above the diagonal
    for (int64_t c0 = 0; c0 < k; c0 += panel) {
      const int64_t t = std::min(panel, k - c0), c1 = c0 + t;
      auto block = Qup.narrow(0, 0, c1).narrow(1, c0, t);
      at::mm_out(block, M.narrow(0, 0, c1).narrow(1, c0, k - c0), f.U.narrow(0, c0, t).narrow(1, c0, k - c0).t());
    }
    Qup.triu_(0);  // the blocks also filled entries left of the diagonal: drop them
    f.c = Qup.diagonal() / d;
    Qup.triu_(1);
    f.b = Qup.square().sum(1);
    // D's column block C = [c0, c1) needs U's rows 0..c1 only (zero below c1 in these columns),
    // times the upper-triangular triu(Q, 1)[:c1, :c1] by row blocks as wide as C.
    f.D = torch::zeros({k, k}, opt);
    for (int64_t c0 = 0; c0 < k; c0 += panel) {
      const int64_t t = std::min(panel, k - c0), c1 = c0 + t;
      triTimesInto(Qup.narrow(0, 0, c1).narrow(1, 0, c1), /*upper=*/true, f.U.narrow(0, 0, c1).narrow(1, c0, t),
                   f.D.narrow(0, 0, c1).narrow(1, c0, t), panel);
    }
    f.D.mul_(opts.alpha);
    f.a = stats.a().clone();
    clock.lap(&ObsProfile::residual);
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

}  // namespace

ObsFactor factorObs(const InputStats& stats, const ObsOptions& opts) {
  checkFactorInputs(stats, opts);
  return factorImpl(stats.H().clone(), stats, opts);
}

ObsFactor factorObs(InputStats&& stats, const ObsOptions& opts) {
  checkFactorInputs(stats, opts);
  return factorImpl(stats.takeH(), stats, opts);
}

namespace {

// ObsOptions::int8Values: per row the scale, the pinned magnitude (127 steps) [n] f32, the pinned
// entries [k, n] bool (transposed, one per row of W but for rows of zeros), whether the pinned
// entries take that magnitude, and their values before rounding as the sweep saw them [n] f32.
struct Int8Pass {
  torch::Tensor scale, top, pinT, seen;
  bool forcePin = false;
};

// Step 6 (the body of pruneObs); with `q`, one pass of the int8 solve.
PrunedWeight solveObs(const torch::Tensor& W, const ObsFactor& f, const ObsOptions& opts, const MaskSpec& spec,
                      const torch::Tensor& fixedKeep, Int8Pass* q) {
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
  PhaseClock clock(opts.profile, f.U.device());
  // Transposed working copy: column j of W is row j of Wt, so that the sweep's rank-1 updates and
  // the lazy updates run on contiguous rows.
  auto Wt = W.detach().to(opt).t().contiguous();                   // [k, n]
  Wt.masked_fill_(f.dead.unsqueeze(1), 0.0);                       // step 1: dead columns
  auto keepT = torch::ones({k, n}, opt.dtype(torch::kBool));       // [k, n] bool
  const auto fkT = fixedKeep.defined() ? fixedKeep.to(opt.device()).t() : torch::Tensor();  // [k, n] view
  const torch::Tensor pinT = q ? q->pinT : torch::Tensor();  // [k, n] bool
  constexpr double kInf = std::numeric_limits<double>::infinity();

  // The sweep runs on raw pointers on the CPU in f32 (N:M chooses masks inside it: tensor path),
  // on row-major copies of U and D when the factor's are not (no copy when they are).
  const bool rawSweep = !nm && Wt.device().is_cpu() && Wt.scalar_type() == torch::kFloat32;
  const torch::Tensor Ur = rawSweep ? f.U.contiguous() : f.U;
  const torch::Tensor Dr = rawSweep && f.residual ? f.D.contiguous() : f.D;
  // The raw sweep's slices of W's rows: one per thread, at least kMinSliceRows rows each, starting
  // on 16-float boundaries of the transposed block's rows.
  const int64_t slices = rawSweep ? std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n / kMinSliceRows)) : 1;
  const auto sliceStart = [&](int64_t t) { return t >= slices ? n : n * t / slices / 16 * 16; };
  for (int64_t i1 = 0; i1 < k; i1 += B) {
    const int64_t i2 = std::min(i1 + B, k);
    const int64_t w = i2 - i1;
    auto W1 = Wt.narrow(0, i1, w);                                 // [w, n] current block (view)
    auto E = torch::empty({w, n}, opt);                            // [w, n] scaled errors e
    auto P = f.residual ? torch::empty({w, n}, opt) : torch::Tensor();  // [w, n] pre-prune values w
    auto K1 = keepT.narrow(0, i1, w);                              // [w, n] bool view into keepT
    const auto f1 = f.colScore.narrow(0, i1, w);                   // [w]
    // Masks are chosen on the whole [w, n] block (which entries tie at the cut follows this
    // orientation's index order).
    if (fkT.defined()) K1.copy_(fkT.narrow(0, i1, w));
    else if (rawSweep) {  // the same scores and mask without tensors, on the threads
      keepAllButLowestWeightedF32(W1.data_ptr<float>(), n, f1.data_ptr<float>(),
                                  pinT.defined() ? pinT.narrow(0, i1, w).data_ptr<bool>() : nullptr, w, n,
                                  spec.sparsity, K1.data_ptr<bool>());
    } else if (!nm) {
      auto scores = W1.square().mul_(f1.unsqueeze(1));  // [w, n]
      if (pinT.defined()) scores.masked_fill_(pinT.narrow(0, i1, w), kInf);
      K1.copy_(keepAllButLowest(scores, spec.sparsity));
    }
    const auto U1 = Ur.narrow(0, i1, w).narrow(1, i1, w);          // [w, w]
    const auto D1 = f.residual ? Dr.narrow(0, i1, w).narrow(1, i1, w) : torch::Tensor();  // [w, w]
    clock.lap(&ObsProfile::masks);

    if (rawSweep) {
      // Rows of W in slices, one per thread, each swept and updated on its own thread (BLAS runs
      // single-threaded inside the parallel region): at SmolLM2's sizes the per-step products are
      // too small for a multi-threaded GEMM to gain anything over its fork and join.
      const Int8Grid grid = q ? Int8Grid{q->scale.data_ptr<float>(), q->top.data_ptr<float>(),
                                         pinT.narrow(0, i1, w).data_ptr<bool>(), q->forcePin, q->seen.data_ptr<float>()}
                              : Int8Grid{};
      const int64_t ldu = Ur.size(1);
      float* pp = P.defined() ? P.data_ptr<float>() : nullptr;
      const float* dp = D1.defined() ? D1.data_ptr<float>() : nullptr;
      double sliceSweep = 0, sliceUpdate = 0;  // the first slice's split, for the profile
      at::parallel_for(0, slices, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t c0 = sliceStart(t), c1 = sliceStart(t + 1), len = c1 - c0;
          const bool timed = opts.profile != nullptr && t == 0;
          double mark = timed ? wallSeconds() : 0;
          const auto lapSlice = [&](double& phase) {
            if (!timed) return;
            const double now = wallSeconds();
            phase += now - mark;
            mark = now;
          };
          for (int64_t s1 = 0; s1 < w; s1 += kSweepColumns) {
            const int64_t s2 = std::min(s1 + kSweepColumns, w);
            if (q)
              sweepRowsInt8(W1.data_ptr<float>(), K1.data_ptr<bool>(), E.data_ptr<float>(), pp, U1.data_ptr<float>(),
                            dp, ldu, n, c0, c1, s1, s2, grid);
            else
              sweepRowsF32(W1.data_ptr<float>(), K1.data_ptr<bool>(), E.data_ptr<float>(), pp, U1.data_ptr<float>(),
                           dp, ldu, n, c0, c1, s1, s2);
            lapSlice(sliceSweep);
            if (s2 < w) {  // the block's later columns, as below
              auto later = W1.narrow(0, s2, w - s2).narrow(1, c0, len);
              later.addmm_(U1.narrow(0, s1, s2 - s1).narrow(1, s2, w - s2).t(),
                           E.narrow(0, s1, s2 - s1).narrow(1, c0, len), 1.0, -1.0);
              if (f.residual)
                later.addmm_(D1.narrow(0, s1, s2 - s1).narrow(1, s2, w - s2).t(),
                             P.narrow(0, s1, s2 - s1).narrow(1, c0, len));
              lapSlice(sliceUpdate);
            }
          }
          if (i2 < k) {  // the lazy batch update, as below
            auto tail = Wt.narrow(0, i2, k - i2).narrow(1, c0, len);
            tail.addmm_(f.U.narrow(0, i1, w).narrow(1, i2, k - i2).t(), E.narrow(1, c0, len), 1.0, -1.0);
            if (f.residual) tail.addmm_(f.D.narrow(0, i1, w).narrow(1, i2, k - i2).t(), P.narrow(1, c0, len));
            lapSlice(sliceUpdate);
          }
        }
      });
      clock.lapSplit(&ObsProfile::sweep, &ObsProfile::update, sliceSweep, sliceUpdate);
      continue;
    }
    for (int64_t s1 = 0; s1 < w; s1 += kSweepColumns) {
      const int64_t s2 = std::min(s1 + kSweepColumns, w);
      for (int64_t i = s1; i < s2; ++i) {
        if (nm && i % spec.nm.m == 0) {
          const auto g = W1.narrow(0, i, spec.nm.m).t();           // [n, M] current weights of the group
          auto scores = g.square() * f1.narrow(0, i, spec.nm.m);    // [n, M]
          if (pinT.defined()) scores.masked_fill_(pinT.narrow(0, i1 + i, spec.nm.m).t(), kInf);
          K1.narrow(0, i, spec.nm.m).copy_(keepNm(scores, spec.nm).t());
        }
        auto row = W1.select(0, i);                                // [n] column j of W
        const auto wcol = row.clone();                             // [n] pre-prune value w
        auto kept = wcol;                                          // [n] the kept value
        if (q) {  // its int8 grid point (gridValue), or the pinned magnitude
          const auto pin = pinT.select(0, i1 + i);                 // [n] bool
          q->seen.copy_(torch::where(pin, wcol.to(torch::kFloat32), q->seen));
          kept = torch::round(wcol / q->scale).clamp_(-127.0, 127.0).to(torch::kFloat32).mul_(q->scale);
          if (q->forcePin) kept = torch::where(pin, torch::copysign(q->top, wcol.to(torch::kFloat32)), kept);
          kept = kept.to(wcol.scalar_type());
        }
        const auto qv = kept * K1.select(0, i);                    // [n] masked rows zeroed
        const auto e = (wcol - qv) / U1[i][i];                     // [n] e = (w - q) / U_jj
        if (i + 1 < s2) {
          auto rest = W1.narrow(0, i + 1, s2 - i - 1);             // [s2-i-1, n]
          rest.addr_(U1[i].narrow(0, i + 1, s2 - i - 1), e, 1.0, -1.0);              // -= U[j, j+1:s2] e
          if (f.residual) rest.addr_(D1[i].narrow(0, i + 1, s2 - i - 1), wcol);     // += D[j, j+1:s2] w
        }
        row.copy_(qv);
        E.select(0, i).copy_(e);
        if (f.residual) P.select(0, i).copy_(wcol);
      }
      clock.lap(&ObsProfile::sweep);
      if (s2 < w) {
        // The block's later columns: W[:, s2:w] -= E[s1:s2] U[s1:s2, s2:w] - P D[s1:s2, s2:w].
        auto later = W1.narrow(0, s2, w - s2);                     // [w-s2, n]
        later.addmm_(U1.narrow(0, s1, s2 - s1).narrow(1, s2, w - s2).t(), E.narrow(0, s1, s2 - s1), 1.0, -1.0);
        if (f.residual)
          later.addmm_(D1.narrow(0, s1, s2 - s1).narrow(1, s2, w - s2).t(), P.narrow(0, s1, s2 - s1));
        clock.lap(&ObsProfile::update);
      }
    }
    if (i2 < k) {
      // Lazy batch update: W[:, i2:] -= E U[i1:i2, i2:] - P D[i1:i2, i2:].
      auto tail = Wt.narrow(0, i2, k - i2);                        // [k-i2, n]
      tail.addmm_(f.U.narrow(0, i1, w).narrow(1, i2, k - i2).t(), E, 1.0, -1.0);
      if (f.residual) tail.addmm_(f.D.narrow(0, i1, w).narrow(1, i2, k - i2).t(), P);
      clock.lap(&ObsProfile::update);
    }
  }
  keepT.logical_and_(f.dead.logical_not().unsqueeze(1));
  return {Wt.t().contiguous().to(W.options()), keepT.t().contiguous().to(W.device())};
}

}  // namespace

PrunedWeight pruneObs(const torch::Tensor& W, const ObsFactor& f, const ObsOptions& opts, const MaskSpec& spec,
                      const torch::Tensor& fixedKeep) {
  if (!opts.int8Values) return solveObs(W, f, opts, spec, fixedKeep, nullptr);
  // int8 values in two passes. The checkpoint and the kernels take a row's scale from its largest
  // magnitude (kernels::int8RowScale), so one entry per row must end at exactly 127 steps; forcing
  // the row's largest weight there costs what the updates moved it by (often several steps, each
  // compensated, but more than rounding's half step). So the first pass rounds every kept weight on
  // the grid of the row as it came in (the largest entry always kept: its score is raised to
  // infinity) and records the value that entry had when the sweep reached it; the second pass, with
  // the first pass's mask, takes the grid that puts that value at 127 steps and pins the entry
  // there, off only by how far the second pass's rounding moves it.
  DUO_CHECK(W.dim() == 2, "OBS solver: expected a weight [n, k], got ", W.sizes());
  DUO_CHECK(W.isfinite().all().item<bool>(), "OBS solver: int8 values need finite weights");
  const auto dev = f.U.device();
  const auto opt = torch::TensorOptions().device(dev);
  auto absW = W.detach().to(dev, torch::kFloat32).abs().masked_fill(f.dead.unsqueeze(0), 0.0);  // [n, k]
  if (fixedKeep.defined()) absW.masked_fill_(fixedKeep.to(dev).logical_not(), 0.0);
  auto [mx, arg] = absW.max(1);  // [n] the rows' largest magnitudes and where they are
  Int8Pass q;
  q.scale = int8GridScales(mx);  // [n] f32, 1 for a row of zeros
  q.top = q.scale.mul(127.0f);
  q.pinT = torch::zeros({W.size(1), W.size(0)}, opt.dtype(torch::kBool));  // [k, n]
  q.pinT.scatter_(0, arg.unsqueeze(0), mx.gt(0).unsqueeze(0));
  q.seen = torch::zeros({W.size(0)}, opt.dtype(torch::kFloat32));
  const PrunedWeight first = solveObs(W, f, opts, spec, fixedKeep, &q);
  // The entry's value as the first pass saw it sets the grid (the original magnitude should the
  // updates have taken it to zero).
  const auto seen = q.seen.abs();
  q.scale = int8GridScales(torch::where(seen.gt(0), seen, mx));
  q.top = q.scale.mul(127.0f);
  q.forcePin = true;
  return solveObs(W, f, opts, spec, first.keep, &q);
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
