// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/prune/int8_grid.h"

#include <cmath>
#include <limits>

#include "core/common/error.h"

namespace duo {

torch::Tensor int8GridScales(const torch::Tensor& top) {
  DUO_CHECK(top.dim() == 1, "int8 grid: expected the rows' largest magnitudes [n], got ", top.sizes());
  const auto t = top.detach().to(torch::kCPU, torch::kFloat32).contiguous();  // [n]
  auto out = torch::empty_like(t);                                           // [n] f32
  const float* tp = t.data_ptr<float>();
  float* sp = out.data_ptr<float>();
  // The kernels' arithmetic (kernels::int8RowScale: largest magnitude / 127.0f), in scalar f32.
  const auto fixed = [](float s) { return (127.0f * s) / 127.0f == s; };
  for (int64_t r = 0; r < t.numel(); ++r) {
    DUO_CHECK(std::isfinite(tp[r]) && tp[r] >= 0.0f, "int8 grid: row ", r, "'s largest magnitude is ", tp[r]);
    const float s0 = tp[r] > 0.0f ? tp[r] / 127.0f : 1.0f;
    float s = s0, up = s0, down = s0;
    for (int step = 0; step < 8 && !fixed(s); ++step) {
      up = std::nextafter(up, std::numeric_limits<float>::infinity());
      down = std::nextafter(down, 0.0f);
      s = fixed(up) ? up : fixed(down) ? down : s;
    }
    DUO_CHECK(fixed(s), "int8 grid: no scale near ", s0, " survives quantising again (row ", r, ")");
    sp[r] = s;
  }
  return out.to(top.device());
}

torch::Tensor roundToInt8Grid(const torch::Tensor& W) {
  DUO_CHECK(W.dim() == 2, "int8 grid: expected a weight [n, k], got ", W.sizes());
  const auto f = W.detach().to(torch::kFloat32);                                      // [n, k]
  const auto scale = int8GridScales(std::get<0>(f.abs().max(1))).unsqueeze(1);        // [n, 1]
  return torch::round(f / scale).clamp_(-127.0, 127.0).mul_(scale).to(W.scalar_type());
}

}  // namespace duo
