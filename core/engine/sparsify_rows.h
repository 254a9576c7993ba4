// SPDX-License-Identifier: GPL-3.0-or-later
// The activation rules as the decode engine applies them, on raw f32 rows (torch-free): topk (the
// exactly-counted smallest |x| of each row zeroed) and threshold (|x| < t zeroed). They equal
// core/prune's torch rules; tests/unit/test_packed_decode.cpp compares them.
#pragma once
#include <cstdint>

namespace duo::perf {

// Zeroes, in place, the exactly-counted smallest-|x| entries of each row of x [rows, k] f32
// (topkZeroCount(k, p) of them; among equal magnitudes the earlier index goes first).
void sparsifyTopKRows(float* x, std::int64_t rows, std::int64_t k, double p);
// Zeroes the entries with |x| < t.
void sparsifyThresholdRows(float* x, std::int64_t n, float t);

}  // namespace duo::perf
