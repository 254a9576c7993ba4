// SPDX-License-Identifier: GPL-3.0-or-later
// The topk activation rule on one raw f32 row (torch-free), shared by calibration's sparsifyTopK
// (core/prune/act_sparsity.h) and the decode engine (core/engine/sparsify_rows.h), and the count of
// zeros calibration reports as the achieved sparsity.
#pragma once
#include <cstdint>

namespace duo {

// out [k] = in [k] with its nZero smallest-|x| entries zeroed (0 < nZero < k; out may be in). |x|
// is ordered by its bit pattern (NaN above +inf, as torch's topk has it); among equal magnitudes the
// earlier index goes first, so exactly nZero entries are zeroed. keys [k] is scratch.
void topkZeroRow(const float* in, float* out, std::int64_t k, std::int64_t nZero, std::uint32_t* keys);

// How many of x [n] are zero (+0 or -0): one vectorised pass (the achieved activation sparsity).
std::int64_t countZeros(const float* x, std::int64_t n);

}  // namespace duo
