// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/act_sparsity.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/Parallel.h>

#include "core/common/error.h"
#include "core/dist/collective.h"
#include "core/prune/topk_rows.h"

namespace duo {

int64_t topkZeroCount(int64_t k, double p) {
  return static_cast<int64_t>(std::llround(p * static_cast<double>(k)));
}

torch::Tensor sparsifyTopK(const torch::Tensor& x, double p) {
  DUO_CHECK(p >= 0.0 && p < 1.0, "topk activation sparsity: expected p in [0, 1), got ", p);
  DUO_CHECK(x.dim() >= 1, "topk activation sparsity: expected a tensor [..., k], got a scalar");
  const int64_t nZero = topkZeroCount(x.size(-1), p);
  if (nZero == 0) return x.clone();
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.is_contiguous() && x.numel() > 0) {
    // Per token (topkZeroRow): the nZero-th smallest magnitude by bisection over vectorised counting
    // passes, then the entries below it and, of those equal to it, the first ones in index order
    // are zeroed (exact count).
    const int64_t k = x.size(-1), rows = x.numel() / k;
    auto out = torch::empty_like(x);
    const float* in = x.data_ptr<float>();
    float* o = out.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
      std::vector<uint32_t> keys(static_cast<size_t>(k));
      for (int64_t r = r0; r < r1; ++r) {
        if (nZero >= k) std::fill(o + r * k, o + (r + 1) * k, 0.0f);
        else topkZeroRow(in + r * k, o + r * k, k, nZero, keys.data());
      }
    });
    return out;
  }
  // Indices of the nZero smallest magnitudes per token; scatter zeros there (exact count).
  const auto idx = std::get<1>(x.abs().topk(nZero, -1, /*largest=*/false, /*sorted=*/false));  // [..., nZero] i64
  return x.scatter(-1, idx, 0.0);
}

int64_t zeroCount(const torch::Tensor& x) {
  if (!(x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.is_contiguous()))
    return x.numel() - torch::count_nonzero(x).item<int64_t>();
  const float* p = x.data_ptr<float>();
  constexpr int64_t kGrain = 1 << 16;
  const int64_t n = x.numel(), parts = (n + kGrain - 1) / kGrain;
  std::vector<int64_t> counts(static_cast<size_t>(parts), 0);
  at::parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t i = p0; i < p1; ++i) counts[static_cast<size_t>(i)] = countZeros(p + i * kGrain, std::min(kGrain, n - i * kGrain));
  });
  int64_t total = 0;
  for (const int64_t c : counts) total += c;
  return total;
}

torch::Tensor sparsifyThreshold(const torch::Tensor& x, float t) {
  DUO_CHECK(std::isfinite(t) && t >= 0.0f, "threshold activation sparsity: expected t >= 0, got ", t);
  if (t == 0.0f) return x.clone();
  return x * x.abs().ge(t).to(x.scalar_type());
}

void ThresholdCalibrator::addBatch(const torch::Tensor& x) {
  const auto a = x.detach().abs().reshape({-1}).to(torch::kFloat32);  // [numel] f32
  if (a.numel() == 0) return;
  if (!m_hist.defined()) m_hist = torch::zeros({kBins + 1}, a.options().dtype(torch::kInt64));
  const double width = (kLog2Hi - kLog2Lo) / static_cast<double>(kBins);
  // Bin 1 + floor((log2|x| - lo) / width), clamped to [1, kBins]; exact zeros go to bin 0.
  auto bin = ((a.log2() - kLog2Lo) / width).floor().clamp(0, kBins - 1).to(torch::kInt64) + 1;  // [numel] i64
  bin = torch::where(a.gt(0), bin, torch::zeros_like(bin));
  m_hist.add_(torch::bincount(bin, {}, kBins + 1).to(m_hist.device()));
  m_total += a.numel();
}

void ThresholdCalibrator::allReduce(Collective& dist) {
  if (dist.size() == 1) return;
  DUO_CHECK(m_hist.defined(), "activation threshold: no calibration inputs on rank ", dist.rank());
  dist.allReduceSum(m_hist);  // i64 counts: exact
  m_total = dist.sum(m_total);
}

float ThresholdCalibrator::threshold(double p) const {
  DUO_CHECK(p >= 0.0 && p < 1.0, "activation threshold: expected p in [0, 1), got ", p);
  DUO_CHECK(m_total > 0, "activation threshold: no calibration inputs were added");
  const auto hist = m_hist.to(torch::kCPU).contiguous();  // [kBins + 1] i64
  const int64_t* h = hist.data_ptr<int64_t>();
  const double target = p * static_cast<double>(m_total);  // entries to zero
  double below = static_cast<double>(h[0]);                // exact zeros are zero already
  if (target <= below) return 0.0f;
  const double width = (kLog2Hi - kLog2Lo) / static_cast<double>(kBins);
  for (int64_t b = 1; b <= kBins; ++b) {
    const double c = static_cast<double>(h[b]);
    if (below + c >= target && c > 0) {
      // Interpolate linearly in log2 space inside the bin: entries are assumed spread evenly.
      const double frac = (target - below) / c;
      return static_cast<float>(std::exp2(kLog2Lo + (static_cast<double>(b - 1) + frac) * width));
    }
    below += c;
  }
  return static_cast<float>(std::exp2(kLog2Hi));  // unreachable for p < 1
}

void ThresholdCalibrator::free() {
  m_hist = torch::Tensor();
  m_total = 0;
}

}  // namespace duo
