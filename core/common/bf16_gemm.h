// SPDX-License-Identifier: GPL-3.0-or-later
// Products of bf16 operands with f32 results, for calibration's bf16 products (input_stats.h,
// "bf16 products"). LibTorch's CPU mm of two bf16 tensors returns bf16: every product's result is
// rounded to 8 bits of mantissa, and turning it back into f32 is one more pass over it. Where the
// CPU multiplies bf16 natively (AVX-512 BF16 / AMX) and oneDNN's headers were found at build time
// (Debian: libdnnl-dev, the library LibTorch itself links), the products run on oneDNN's matmul
// with an f32 destination instead: the same f32 accumulation inside the product, nothing rounded
// after it. Elsewhere (CUDA, CPUs without BF16 instructions, builds without oneDNN) they are
// LibTorch's own. Also the statistics' f32 Gram matrix from the BLAS's ssyrk (gramUpperF32).
// Internal header (torch).
#pragma once

#include <torch/torch.h>

namespace duo {

// True where a bf16 product's result comes back unrounded in f32 (oneDNN on a BF16 CPU).
bool bf16ProductsUnrounded(const torch::Device& device);

// a [M, K] times b [K, N], a bf16 product's result in f32: for bf16 operands on the CPU with
// bf16ProductsUnrounded, one oneDNN matmul (any strides with a unit stride in one dimension; the
// result contiguous); otherwise torch::mm, a bf16 result converted to f32 (f32 and f64 products
// come back as torch::mm returns them).
torch::Tensor mmF32(const torch::Tensor& a, const torch::Tensor& b);

// out [B, M, N] (any dtype and strides) = a [B, M, K] times b [B, K, N], batched: for bf16 operands
// with bf16ProductsUnrounded and an f32 `out`, oneDNN writes the f32 products straight into it;
// otherwise torch::bmm, copied into `out`.
void bmmF32Into(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor out);

// x [..., k] times w [n, k] transposed, [..., n] (torch::linear without a bias), in f32 as mmF32.
torch::Tensor linearF32(const torch::Tensor& x, const torch::Tensor& w);

// The Gram matrix s^T s of f32 rows s [m, k] on the CPU (unit column stride), on and above its
// diagonal as [k, k] f32 with zeros below, from the BLAS's ssyrk where the BLAS LibTorch loaded
// exports it: half of a GEMM's flops, none spent below the diagonal (a product by row panels
// computes the lower half of each diagonal square too: at k = 576 and 256-row panels, 40% more
// than the upper triangle). Each entry is the same f32 dot product over the rows as a GEMM's.
// Undefined where there is no ssyrk, for other devices, dtypes or strides, and beyond
// kGramMaxWidth columns (the [k, k] result is a buffer of its own; at larger k the panels' waste
// is a few percent).
constexpr int64_t kGramMaxWidth = 2048;
torch::Tensor gramUpperF32(const torch::Tensor& s);

}  // namespace duo
