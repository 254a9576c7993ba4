// SPDX-License-Identifier: GPL-3.0-or-later
// Weights on the int8 grid the checkpoint writer and the int8 kernels store them on: per output
// row, scale = kernels::int8RowScale (largest magnitude / 127, 1 for a row of zeros) and
// q = kernels::quantizeInt8 (nearest, ties to even, clamped to +-127).
#pragma once
#include <torch/torch.h>

namespace duo {

// Per-row scales [n] f32 (on top's device) from the rows' largest magnitudes top [n]: top / 127,
// moved by at most a few ulps to a scale s with fl(fl(127 s) / 127) == s, so that a row whose
// largest magnitude is 127 s (in f32) gets s back from kernels::int8RowScale and every q * s of it
// is reproduced exactly when quantised again; 1 where top is 0.
torch::Tensor int8GridScales(const torch::Tensor& top);

// W [n, k] (any float dtype and device) with every row rounded to its int8 grid, in W's dtype:
// q * scale in f32 with int8GridScales of the rows' largest magnitudes, so that quantising the
// result again gives the same integers and scales (and, in f32, the same values).
torch::Tensor roundToInt8Grid(const torch::Tensor& W);

}  // namespace duo
