// SPDX-License-Identifier: GPL-3.0-or-later
// Element-wise work on raw f32 rows (torch-free): RMSNorm, RoPE, one query's attention, SwiGLU,
// for the decode engine's step and the model's CPU forward (llama_model.h: prompts, evaluation,
// calibration's streams). Each is built twice, for AVX2 and for the baseline x86-64, and the loader
// picks by the CPU (GCC's target_clones), so the portable build still runs them 8 lanes wide.
#pragma once
#include <cstdint>

namespace duo::perf {

// out = x / sqrt(mean(x^2) + eps) * w for each of `rows` rows of width d (sum of squares in f64).
void rmsNormRows(const float* x, const float* w, float* out, std::int64_t rows, std::int64_t d, double eps);

// Rotate-half RoPE in place on `heads` vectors of width hd at one position's cos/sin rows [hd].
void ropeInPlace(float* x, std::int64_t heads, std::int64_t hd, const float* cos, const float* sin);

// One query position against cached positions [s0, S) (s0 > 0 under a sliding window): q [B, H, hd],
// caches [B, Hkv, maxLen, hd] with Hkv = H / g (query head h reads kv head h / g), out [B, H, hd];
// the (sequence, head) pairs on OpenMP's threads when the work is worth it.
void attendOne(const float* q, const float* kc, const float* vc, float* out, std::int64_t B, std::int64_t H,
               std::int64_t g, std::int64_t maxLen, std::int64_t s0, std::int64_t S, std::int64_t hd, float scale);

// gate[i] = silu(gate[i]) * up[i] for i < n, silu(g) = g / (1 + e^-g) with e^x within 1 ulp (a
// polynomial that vectorises; std::exp does not here).
void swigluRows(float* gate, const float* up, std::int64_t n);

}  // namespace duo::perf
