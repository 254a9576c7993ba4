// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/windows.h"

#include <random>

#include "core/common/error.h"

namespace duo {

torch::Tensor sampleWindows(const std::vector<int32_t>& tokens, int n, int seqlen, uint64_t seed) {
  DUO_CHECK(n > 0 && seqlen > 1, "calibration windows: nsamples ", n, " and seqlen ", seqlen, " must be positive");
  DUO_CHECK(static_cast<int64_t>(tokens.size()) > seqlen, "calibration windows: the text has ", tokens.size(),
            " tokens, fewer than seqlen ", seqlen);
  std::mt19937_64 rng(seed);
  const uint64_t span = tokens.size() - static_cast<size_t>(seqlen);
  auto out = torch::empty({n, seqlen}, torch::kLong);  // [n, seqlen] i64
  auto acc = out.accessor<int64_t, 2>();
  for (int i = 0; i < n; ++i) {
    const uint64_t start = rng() % (span + 1);
    for (int t = 0; t < seqlen; ++t) acc[i][t] = tokens[start + static_cast<uint64_t>(t)];
  }
  return out;
}

torch::Tensor consecutiveWindows(const std::vector<int32_t>& tokens, int seqlen, int maxWindows) {
  DUO_CHECK(seqlen > 1, "evaluation windows: seqlen ", seqlen, " must be at least 2");
  int64_t w = static_cast<int64_t>(tokens.size()) / seqlen;
  DUO_CHECK(w > 0, "evaluation windows: the text has ", tokens.size(), " tokens, fewer than seqlen ", seqlen);
  if (maxWindows > 0) w = std::min<int64_t>(w, maxWindows);
  auto out = torch::empty({w, seqlen}, torch::kLong);  // [w, seqlen] i64
  auto acc = out.accessor<int64_t, 2>();
  for (int64_t i = 0; i < w; ++i)
    for (int t = 0; t < seqlen; ++t) acc[i][t] = tokens[static_cast<size_t>(i * seqlen + t)];
  return out;
}

}  // namespace duo
