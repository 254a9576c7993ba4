// SPDX-License-Identifier: GPL-3.0-or-later
// Internal to kernels/cuda: CUDA error checks that throw duo::Error, the device scratch buffers,
// and f32/f16/bf16/int8 value loads (int8 loads give the stored integer q, before its row's scale).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/types.h"

namespace duo::kernels::cuda::detail {

// Throws duo::Error "cuda: <what> at <file>:<line>: <CUDA error text>" when e is not cudaSuccess.
void check(cudaError_t e, const char* what, const char* file, int line);

// A grow-only device scratch area (one per slot), for active-column lists and converted inputs.
void* scratch(int slot, std::size_t bytes);

// Streaming multiprocessors of the current device (cached).
int multiprocessors();

}  // namespace duo::kernels::cuda::detail

#define DUO_CUDA_CHECK(expr) ::duo::kernels::cuda::detail::check((expr), #expr, __FILE__, __LINE__)
#define DUO_CUDA_CHECK_LAUNCH(what) DUO_CUDA_CHECK(cudaGetLastError())

namespace duo::kernels::cuda::detail {

// Storage type of each ValueType on the device.
template <ValueType T>
struct Storage;
template <>
struct Storage<ValueType::F32> {
  using type = float;
};
template <>
struct Storage<ValueType::F16> {
  using type = __half;
};
template <>
struct Storage<ValueType::BF16> {
  using type = __nv_bfloat16;
};
template <>
struct Storage<ValueType::I8> {
  using type = std::int8_t;
};

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float toFloat(std::int8_t v) { return static_cast<float>(v); }

// Read-only load of element i as f32.
template <typename S>
__device__ __forceinline__ float loadF(const S* p, std::size_t i) {
  return toFloat(__ldg(p + i));
}

// 16 bytes of S (4 f32, 8 halves or 16 int8) unpacked to f32.
template <typename S>
struct Vec16 {
  static constexpr int kCount = 16 / sizeof(S);
};
__device__ __forceinline__ void unpack16(const uint4& p, float* out, const float*) {
  out[0] = __uint_as_float(p.x);
  out[1] = __uint_as_float(p.y);
  out[2] = __uint_as_float(p.z);
  out[3] = __uint_as_float(p.w);
}
__device__ __forceinline__ float2 toFloat2(__half2 h) { return __half22float2(h); }
__device__ __forceinline__ float2 toFloat2(__nv_bfloat162 h) { return __bfloat1622float2(h); }
// 8 halves (Pair: __half2 or __nv_bfloat162) as 4 pairs.
template <typename Pair>
__device__ __forceinline__ void unpackPairs(const uint4& p, float* out) {
  const Pair* h = reinterpret_cast<const Pair*>(&p);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = toFloat2(h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}
__device__ __forceinline__ void unpack16(const uint4& p, float* out, const __half*) { unpackPairs<__half2>(p, out); }
__device__ __forceinline__ void unpack16(const uint4& p, float* out, const __nv_bfloat16*) {
  unpackPairs<__nv_bfloat162>(p, out);
}
__device__ __forceinline__ void unpack16(const uint4& p, float* out, const std::int8_t*) {
  const char4* c = reinterpret_cast<const char4*>(&p);  // signed bytes, in memory order
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[4 * i] = static_cast<float>(c[i].x);
    out[4 * i + 1] = static_cast<float>(c[i].y);
    out[4 * i + 2] = static_cast<float>(c[i].z);
    out[4 * i + 3] = static_cast<float>(c[i].w);
  }
}

}  // namespace duo::kernels::cuda::detail
