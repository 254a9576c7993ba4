// SPDX-License-Identifier: GPL-3.0-or-later
// Token windows for calibration (random, seeded) and evaluation (consecutive). Internal (torch).
#pragma once
#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace duo {

// `n` windows of `seqlen` tokens at uniformly random starts (seeded, reproducible across runs and
// platforms: std::mt19937_64 with explicit modulo). Returns [n, seqlen] i64.
torch::Tensor sampleWindows(const std::vector<int32_t>& tokens, int n, int seqlen, uint64_t seed);

// Non-overlapping windows of `seqlen` from the start, tail dropped; at most maxWindows (0 = all).
// Returns [w, seqlen] i64.
torch::Tensor consecutiveWindows(const std::vector<int32_t>& tokens, int seqlen, int maxWindows = 0);

}  // namespace duo
