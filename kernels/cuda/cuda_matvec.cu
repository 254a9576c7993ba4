// SPDX-License-Identifier: GPL-3.0-or-later
// CUDA mat-vec kernels (f32 accumulation over f32/f16/bf16/int8 values), one launcher per product
// with the same checks as the CPU versions. Int8 kernels add up q * x and multiply each output row's
// sum by its rowScale where they write y (see rowScaleAt). Work split:
//   dense row-major   one warp per row, 16-byte vector loads when rows are aligned
//   column-major      active columns compacted once (order kept), then blocks of [row tile x
//                     column chunk] accumulate in registers and add into y with atomics
//   column-packed     one block per [strip x column chunk]: y's strip slice lives in shared
//                     memory; each warp decodes a record's bitmap 32 words at a time (popcount +
//                     warp scan gives each lane its values' offset) and adds with shared atomics
//   N:M               one warp per row, lanes over the groups
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_matvec.h"

namespace duo::kernels::cuda {
namespace detail {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = 32 * kWarpsPerBlock;
constexpr int kColsPerChunk = 64;     // column-major: active columns per block
constexpr int kSparseColsPerChunk = 256;  // column-packed: columns per block

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(kFull, v, d);
  return v;
}

// The factor of row r's sum: I8 stores q and weight (r, c) = q * scale[r] (scale [rows] f32, device);
// the float types carry no scale and multiply by 1, which the compiler drops.
template <typename S>
__device__ __forceinline__ float rowScaleAt(const float* scale, std::int64_t r) {
  if constexpr (std::is_same<S, std::int8_t>::value)
    return __ldg(scale + r);
  else
    return 1.0f;
}

// ---- dense row-major -----------------------------------------------------------------------------
template <typename S, int B, bool Vec>
__global__ void __launch_bounds__(kThreads) denseRowMajorKernel(const S* __restrict__ w, std::int64_t rows,
                                                                std::int64_t cols, std::int64_t ld,
                                                                const float* __restrict__ scale,
                                                                const float* __restrict__ x, float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  const S* wr = w + row * ld;
  float acc[B];
#pragma unroll
  for (int b = 0; b < B; ++b) acc[b] = 0.0f;
  if (Vec) {
    constexpr int kV = Vec16<S>::kCount;
    const uint4* w4 = reinterpret_cast<const uint4*>(wr);
    const std::int64_t n = cols / kV;
#pragma unroll 4
    for (std::int64_t i = lane; i < n; i += 32) {  // unrolled: several 512-byte loads in flight per warp
      float wv[kV];
      unpack16(__ldg(w4 + i), wv, static_cast<const S*>(nullptr));
#pragma unroll
      for (int b = 0; b < B; ++b) {
        const float4* x4 = reinterpret_cast<const float4*>(x + b * cols + i * kV);
#pragma unroll
        for (int q = 0; q < kV / 4; ++q) {
          const float4 xv = __ldg(x4 + q);
          acc[b] += wv[4 * q] * xv.x + wv[4 * q + 1] * xv.y + wv[4 * q + 2] * xv.z + wv[4 * q + 3] * xv.w;
        }
      }
    }
  } else {
    for (std::int64_t c = lane; c < cols; c += 32) {
      const float wv = loadF(wr, static_cast<std::size_t>(c));
#pragma unroll
      for (int b = 0; b < B; ++b) acc[b] += wv * __ldg(x + b * cols + c);
    }
  }
  const float sc = rowScaleAt<S>(scale, row);
#pragma unroll
  for (int b = 0; b < B; ++b) {
    const float s = warpSum(acc[b]);
    if (lane == 0) y[b * rows + row] = s * sc;
  }
}

// ---- active-column compaction (one block) ------------------------------------------------------------
// idx[0..count) = the columns with a non-zero input in some batch row (all columns when !skipZeros),
// ascending; count is written to *count.
__global__ void __launch_bounds__(1024) compactColumnsKernel(const float* __restrict__ x, std::int64_t cols, int batch,
                                                           bool skipZeros, std::int32_t* __restrict__ idx,
                                                           std::int32_t* __restrict__ count) {
  __shared__ int warpBase[32];
  __shared__ int total;
  __shared__ int base;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nWarps = blockDim.x >> 5;
  if (threadIdx.x == 0) base = 0;
  __syncthreads();
  for (std::int64_t start = 0; start < cols; start += blockDim.x) {
    const std::int64_t j = start + threadIdx.x;
    bool active = false;
    if (j < cols) {
      active = !skipZeros;
      for (int b = 0; b < batch && !active; ++b) active = x[b * cols + j] != 0.0f;
    }
    const unsigned ballot = __ballot_sync(kFull, active);
    if (lane == 0) warpBase[warp] = __popc(ballot);
    __syncthreads();
    if (warp == 0) {  // exclusive scan of the per-warp counts
      const int v = lane < nWarps ? warpBase[lane] : 0;
      int incl = v;
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        const int t = __shfl_up_sync(kFull, incl, d);
        if (lane >= d) incl += t;
      }
      if (lane < nWarps) warpBase[lane] = incl - v;
      if (lane == 31) total = incl;
    }
    __syncthreads();
    if (active) idx[base + warpBase[warp] + __popc(ballot & ((1u << lane) - 1u))] = static_cast<std::int32_t>(j);
    __syncthreads();
    if (threadIdx.x == 0) base += total;
    __syncthreads();
  }
  if (threadIdx.x == 0) *count = base;
}

// ---- dense column-major over active columns ---------------------------------------------------------
// Block (tile, chunk): rows [tile * kThreads * R, ...), active columns [chunk * kColsPerChunk, ...).
// Each thread owns R consecutive rows (R = 16 bytes of S when Vec). I8: each block's partial sums
// are scaled before they are added into y (the row scale distributes over the blocks' sum).
template <typename S, int B, bool Vec>
__global__ void __launch_bounds__(kThreads) colMajorKernel(const S* __restrict__ w, std::int64_t rows,
                                                           std::int64_t cols, std::int64_t ld,
                                                           const float* __restrict__ scale,
                                                           const float* __restrict__ x,
                                                           const std::int32_t* __restrict__ idx,
                                                           const std::int32_t* __restrict__ count,
                                                           float* __restrict__ y) {
  constexpr int R = Vec ? Vec16<S>::kCount : 1;
  __shared__ std::int32_t sIdx[kColsPerChunk];
  __shared__ float sX[kColsPerChunk][B];
  const std::int64_t k0 = static_cast<std::int64_t>(blockIdx.y) * kColsPerChunk;
  const std::int64_t n = *count;
  if (k0 >= n) return;
  const int kn = static_cast<int>(n - k0 < kColsPerChunk ? n - k0 : kColsPerChunk);
  for (int i = threadIdx.x; i < kn; i += blockDim.x) {
    const std::int32_t j = idx[k0 + i];
    sIdx[i] = j;
#pragma unroll
    for (int b = 0; b < B; ++b) sX[i][b] = x[b * cols + j];
  }
  __syncthreads();
  const std::int64_t r0 = (static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x) * R;
  if (r0 >= rows) return;
  float acc[B][R];
#pragma unroll
  for (int b = 0; b < B; ++b)
#pragma unroll
    for (int i = 0; i < R; ++i) acc[b][i] = 0.0f;
#pragma unroll 4
  for (int k = 0; k < kn; ++k) {
    const S* col = w + static_cast<std::int64_t>(sIdx[k]) * ld;
    float wv[R];
    if (Vec)
      unpack16(__ldg(reinterpret_cast<const uint4*>(col + r0)), wv, static_cast<const S*>(nullptr));
    else
      wv[0] = loadF(col, static_cast<std::size_t>(r0));
#pragma unroll
    for (int b = 0; b < B; ++b)
#pragma unroll
      for (int i = 0; i < R; ++i) acc[b][i] += wv[i] * sX[k][b];
  }
#pragma unroll
  for (int i = 0; i < R; ++i) {
    const float sc = rowScaleAt<S>(scale, r0 + i);
#pragma unroll
    for (int b = 0; b < B; ++b)
      if (acc[b][i] != 0.0f) atomicAdd(y + b * rows + r0 + i, acc[b][i] * sc);
  }
}

// ---- column-packed strips ------------------------------------------------------------------------------
// Block (strip, chunk): columns [chunk * kSparseColsPerChunk, ...) of the visit list (all columns,
// or the compacted active ones), one warp per column at a time. ys: [B, stripRows] in shared memory.
// I8: the strip's partial sums are scaled by their rows' scales before they are added into y.
template <typename S, int B, bool Bitmap>
__global__ void __launch_bounds__(kThreads) sparseColumnsKernel(SparseColumnsView w, const float* __restrict__ x,
                                                                const std::int32_t* __restrict__ idx,
                                                                const std::int32_t* __restrict__ count,
                                                                float* __restrict__ y) {
  extern __shared__ float ys[];  // [B, stripRows]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int32_t s = static_cast<std::int32_t>(blockIdx.x);
  const std::int64_t k0 = static_cast<std::int64_t>(blockIdx.y) * kSparseColsPerChunk;
  const std::int64_t n = idx ? *count : w.cols;
  if (k0 >= n) return;
  const std::int64_t k1 = k0 + kSparseColsPerChunk < n ? k0 + kSparseColsPerChunk : n;
  for (int i = threadIdx.x; i < B * w.stripRows; i += blockDim.x) ys[i] = 0.0f;
  __syncthreads();

  const S* values = static_cast<const S*>(w.values);
  const int words = w.bitmapBytes / 4;  // u32 words per record's bitmap
  for (std::int64_t k = k0 + warp; k < k1; k += kWarpsPerBlock) {
    const std::int64_t j = idx ? idx[k] : k;
    const std::int64_t rec = static_cast<std::int64_t>(s) * w.cols + j;
    float xb[B];
#pragma unroll
    for (int b = 0; b < B; ++b) xb[b] = __ldg(x + b * w.cols + j);
    std::uint32_t at = __ldg(w.colStart + rec);
    if (Bitmap) {
      const std::uint32_t* bm = reinterpret_cast<const std::uint32_t*>(w.bitmap + rec * w.bitmapBytes);
      for (int w0 = 0; w0 < words; w0 += 32) {
        std::uint32_t word = w0 + lane < words ? __ldg(bm + w0 + lane) : 0u;
        const int cnt = __popc(word);
        int incl = cnt;
#pragma unroll
        for (int d = 1; d < 32; d <<= 1) {
          const int t = __shfl_up_sync(kFull, incl, d);
          if (lane >= d) incl += t;
        }
        std::uint32_t off = at + static_cast<std::uint32_t>(incl - cnt);
        const int rowBase = (w0 + lane) * 32;
        while (word) {
          const int bit = __ffs(word) - 1;
          word &= word - 1u;
          const float v = loadF(values, off++);
#pragma unroll
          for (int b = 0; b < B; ++b) atomicAdd(&ys[b * w.stripRows + rowBase + bit], v * xb[b]);
        }
        at += static_cast<std::uint32_t>(__shfl_sync(kFull, incl, 31));
      }
    } else {
      const std::uint32_t end = __ldg(w.colStart + rec + 1);
      for (std::uint32_t i = at + lane; i < end; i += 32) {
        const float v = loadF(values, i);
        const int row = __ldg(w.rowIndex + i);
#pragma unroll
        for (int b = 0; b < B; ++b) atomicAdd(&ys[b * w.stripRows + row], v * xb[b]);
      }
    }
  }
  __syncthreads();
  const std::int64_t r0 = static_cast<std::int64_t>(s) * w.stripRows;
  const std::int64_t nr = (r0 + w.stripRows < w.rows ? r0 + w.stripRows : w.rows) - r0;
  for (int b = 0; b < B; ++b)
    for (std::int64_t i = threadIdx.x; i < nr; i += blockDim.x) {
      const float v = ys[b * w.stripRows + i];
      if (v != 0.0f) atomicAdd(y + b * w.rows + r0 + i, v * rowScaleAt<S>(w.rowScale, r0 + i));
    }
}

// ---- N:M rows ---------------------------------------------------------------------------------------
template <typename S, int B>
__global__ void __launch_bounds__(kThreads) nmKernel(NmView w, const float* __restrict__ x, float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= w.rows) return;
  const S* values = static_cast<const S*>(w.values) + row * (w.cols / w.m * w.n);
  const std::uint8_t* mask = w.mask + row * w.maskRowBytes;
  float acc[B];
#pragma unroll
  for (int b = 0; b < B; ++b) acc[b] = 0.0f;
  const std::int64_t groups = w.cols / w.m;
  for (std::int64_t g = lane; g < groups; g += 32) {
    std::size_t at = static_cast<std::size_t>(g * w.n);
    for (int i = 0; i < w.m; ++i) {
      const std::int64_t c = g * w.m + i;
      if (!((__ldg(mask + c / 8) >> (c % 8)) & 1u)) continue;
      const float v = loadF(values, at++);
#pragma unroll
      for (int b = 0; b < B; ++b) acc[b] += v * __ldg(x + b * w.cols + c);
    }
  }
  const float sc = rowScaleAt<S>(w.rowScale, row);
#pragma unroll
  for (int b = 0; b < B; ++b) {
    const float s = warpSum(acc[b]);
    if (lane == 0) y[b * w.rows + row] = s * sc;
  }
}

// ---- launch helpers ------------------------------------------------------------------------------------
bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

template <typename Fn>
void byType(ValueType t, Fn&& fn) {
  switch (t) {
    case ValueType::F32: return fn(float{});
    case ValueType::F16: return fn(__half{});
    case ValueType::BF16: return fn(__nv_bfloat16{});
    case ValueType::I8: return fn(std::int8_t{});
  }
}

template <template <int> class F, typename... Args>
void byBatch(int batch, Args&&... args) {
  switch (batch) {
    case 1: return F<1>::run(args...);
    case 2: return F<2>::run(args...);
    case 3: return F<3>::run(args...);
    case 4: return F<4>::run(args...);
    case 5: return F<5>::run(args...);
    case 6: return F<6>::run(args...);
    case 7: return F<7>::run(args...);
    default: return F<8>::run(args...);
  }
}

// Compacted visit list (device): indices and count, in the scratch slots 0 and 1.
void compactColumns(const float* x, std::int64_t cols, int batch, bool skipZeros, std::int32_t*& idx,
                    std::int32_t*& count) {
  idx = static_cast<std::int32_t*>(scratch(0, static_cast<std::size_t>(cols) * sizeof(std::int32_t)));
  count = static_cast<std::int32_t*>(scratch(1, sizeof(std::int32_t)));
  compactColumnsKernel<<<1, 1024>>>(x, cols, batch, skipZeros, idx, count);
  DUO_CUDA_CHECK_LAUNCH("compactColumnsKernel");
}

template <int B>
struct DenseLaunch {
  static void run(const DenseView& w, const float* x, float* y) {
    byType(w.type, [&](auto tag) {
      using S = decltype(tag);
      constexpr int kV = Vec16<S>::kCount;
      const S* values = static_cast<const S*>(w.values);
      const bool vec = aligned16(values) && aligned16(x) && (w.ld * sizeof(S)) % 16 == 0 && w.cols % kV == 0;
      const dim3 grid(static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
      if (vec)
        denseRowMajorKernel<S, B, true><<<grid, kThreads>>>(values, w.rows, w.cols, w.ld, w.rowScale, x, y);
      else
        denseRowMajorKernel<S, B, false><<<grid, kThreads>>>(values, w.rows, w.cols, w.ld, w.rowScale, x, y);
      DUO_CUDA_CHECK_LAUNCH("denseRowMajorKernel");
    });
  }
};

template <int B>
struct ColMajorLaunch {
  static void run(const DenseView& w, const float* x, float* y, bool skipZeros) {
    std::int32_t *idx, *count;
    compactColumns(x, w.cols, B, skipZeros, idx, count);
    DUO_CUDA_CHECK(cudaMemsetAsync(y, 0, static_cast<std::size_t>(B * w.rows) * sizeof(float)));
    byType(w.type, [&](auto tag) {
      using S = decltype(tag);
      constexpr int kV = Vec16<S>::kCount;
      const S* values = static_cast<const S*>(w.values);
      const bool vec = aligned16(values) && (w.ld * sizeof(S)) % 16 == 0 && w.rows % kV == 0;
      const std::int64_t rowsPerBlock = static_cast<std::int64_t>(kThreads) * (vec ? kV : 1);
      const dim3 grid(static_cast<unsigned>((w.rows + rowsPerBlock - 1) / rowsPerBlock),
                      static_cast<unsigned>((w.cols + kColsPerChunk - 1) / kColsPerChunk));
      if (vec)
        colMajorKernel<S, B, true><<<grid, kThreads>>>(values, w.rows, w.cols, w.ld, w.rowScale, x, idx, count, y);
      else
        colMajorKernel<S, B, false><<<grid, kThreads>>>(values, w.rows, w.cols, w.ld, w.rowScale, x, idx, count, y);
      DUO_CUDA_CHECK_LAUNCH("colMajorKernel");
    });
  }
};

template <int B>
struct SparseLaunch {
  static void run(const SparseColumnsView& w, const float* x, float* y, bool skipZeros) {
    std::int32_t *idx = nullptr, *count = nullptr;
    if (skipZeros) compactColumns(x, w.cols, B, true, idx, count);
    DUO_CUDA_CHECK(cudaMemsetAsync(y, 0, static_cast<std::size_t>(B * w.rows) * sizeof(float)));
    const std::size_t smem = static_cast<std::size_t>(B) * static_cast<std::size_t>(w.stripRows) * sizeof(float);
    const dim3 grid(static_cast<unsigned>(w.strips),
                    static_cast<unsigned>((w.cols + kSparseColsPerChunk - 1) / kSparseColsPerChunk));
    byType(w.type, [&](auto tag) {
      using S = decltype(tag);
      auto launch = [&](auto kernel) {
        if (smem > 48 * 1024)
          DUO_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              static_cast<int>(smem)));
        kernel<<<grid, kThreads, smem>>>(w, x, idx, count, y);
        DUO_CUDA_CHECK_LAUNCH("sparseColumnsKernel");
      };
      if (w.index == IndexKind::Bitmap)
        launch(sparseColumnsKernel<S, B, true>);
      else
        launch(sparseColumnsKernel<S, B, false>);
    });
  }
};

template <int B>
struct NmLaunch {
  static void run(const NmView& w, const float* x, float* y) {
    byType(w.type, [&](auto tag) {
      using S = decltype(tag);
      const dim3 grid(static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
      nmKernel<S, B><<<grid, kThreads>>>(w, x, y);
      DUO_CUDA_CHECK_LAUNCH("nmKernel");
    });
  }
};

}  // namespace
}  // namespace detail

void denseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkProduct("cuda::denseGemv", w, x, y, batch);
  DUO_CHECK(!w.int8Inputs, "cuda::denseGemv: int8 inputs are a CPU kernel path only (not in the CUDA kernels)");
  if (w.layout == Layout::ColMajor) return detail::byBatch<detail::ColMajorLaunch>(batch, w, x, y, false);
  detail::byBatch<detail::DenseLaunch>(batch, w, x, y);
}

void actSparseGemv(const DenseView& w, const float* x, float* y, int batch) {
  checkProduct("cuda::actSparseGemv", w, x, y, batch);
  DUO_CHECK(!w.int8Inputs, "cuda::actSparseGemv: int8 inputs are a CPU kernel path only (not in the CUDA kernels)");
  checkColMajor(w, "cuda::actSparseGemv");
  detail::byBatch<detail::ColMajorLaunch>(batch, w, x, y, true);
}

void weightSparseSpmv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkProduct("cuda::weightSparseSpmv", w, x, y, batch);
  DUO_CHECK(!w.int8Inputs, "cuda::weightSparseSpmv: int8 inputs are a CPU kernel path only (not in the CUDA kernels)");
  detail::byBatch<detail::SparseLaunch>(batch, w, x, y, false);
}

void dualSparseSpmspv(const SparseColumnsView& w, const float* x, float* y, int batch) {
  checkProduct("cuda::dualSparseSpmspv", w, x, y, batch);
  DUO_CHECK(!w.int8Inputs, "cuda::dualSparseSpmspv: int8 inputs are a CPU kernel path only (not in the CUDA kernels)");
  detail::byBatch<detail::SparseLaunch>(batch, w, x, y, true);
}

void weightSparseSpmv(const NmView& w, const float* x, float* y, int batch) {
  checkProduct("cuda::weightSparseSpmv", w, x, y, batch);
  detail::byBatch<detail::NmLaunch>(batch, w, x, y);
}

void dualSparseSpmspv(const NmView& w, const float* x, float* y, int batch) {
  // Row-major N:M: zero inputs save no bytes (see kernels/nm_sparse.h); same product as SpMV.
  checkProduct("cuda::dualSparseSpmspv", w, x, y, batch);
  detail::byBatch<detail::NmLaunch>(batch, w, x, y);
}

}  // namespace duo::kernels::cuda
