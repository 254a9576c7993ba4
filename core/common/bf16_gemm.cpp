// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/bf16_gemm.h"

#include <dlfcn.h>

#include <atomic>
#include <limits>

#include "core/common/device.h"
#include "core/common/error.h"

#ifdef DUO_HAVE_DNNL
#include <dnnl.hpp>
#endif

namespace duo {

namespace {

#ifdef DUO_HAVE_DNNL
// Set when a oneDNN call failed: every later product goes through LibTorch.
std::atomic<bool> g_dnnlFailed{false};

dnnl::memory::desc plainDesc(const torch::Tensor& t, dnnl::memory::data_type dt) {
  return dnnl::memory::desc(dnnl::memory::dims(t.sizes().begin(), t.sizes().end()), dt,
                            dnnl::memory::dims(t.strides().begin(), t.strides().end()));
}

// c = a b on oneDNN: a, b bf16 [M, K], [K, N] (or batched [B, M, K], [B, K, N]); c f32 [M, N]
// ([B, M, N]), any strides. False when oneDNN refused it (the caller falls back).
bool dnnlMatmul(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor& c) {
  try {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const auto bf16 = dnnl::memory::data_type::bf16;
    const auto amd = plainDesc(a, bf16), bmd = plainDesc(b, bf16), cmd = plainDesc(c, dnnl::memory::data_type::f32);
#if DNNL_VERSION_MAJOR >= 3
    const dnnl::matmul::primitive_desc pd(engine, amd, bmd, cmd);
#else
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(amd, bmd, cmd), engine);
#endif
    // oneDNN's memory objects take non-const pointers; sources are only read.
    dnnl::memory am(amd, engine, const_cast<void*>(a.data_ptr()));
    dnnl::memory bm(bmd, engine, const_cast<void*>(b.data_ptr()));
    dnnl::memory cm(cmd, engine, c.data_ptr());
    dnnl::matmul(pd).execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    stream.wait();
    return true;
  } catch (const dnnl::error&) {
    g_dnnlFailed = true;
    return false;
  }
}

// oneDNN's plain layouts: the last two dimensions with a unit stride in one of them (a transposed
// view is fine), nothing overlapping.
bool plainStrides(const torch::Tensor& t) {
  const int64_t d = t.dim();
  return t.size(d - 2) <= 1 || t.size(d - 1) <= 1 || t.stride(d - 2) == 1 || t.stride(d - 1) == 1;
}

bool unroundedOperands(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == torch::kBFloat16 && b.scalar_type() == torch::kBFloat16 && bf16ProductsUnrounded(a.device()) &&
         b.device().is_cpu() && a.numel() > 0 && b.numel() > 0 && plainStrides(a) && plainStrides(b);
}
#endif

// A bf16 result as f32; f32 and f64 results as they are.
torch::Tensor widened(const torch::Tensor& y) { return y.scalar_type() == torch::kBFloat16 ? y.to(torch::kFloat32) : y; }

}  // namespace

bool bf16ProductsUnrounded(const torch::Device& device) {
#ifdef DUO_HAVE_DNNL
  static const bool native = bf16Products(false).fast;  // the CPU does not change
  return device.is_cpu() && native && !g_dnnlFailed;
#else
  (void)device;
  return false;
#endif
}

torch::Tensor mmF32(const torch::Tensor& a, const torch::Tensor& b) {
  DUO_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "mmF32: expected [M, K] and [K, N], got ",
            a.sizes(), " and ", b.sizes());
#ifdef DUO_HAVE_DNNL
  if (unroundedOperands(a, b)) {
    torch::Tensor c = torch::empty({a.size(0), b.size(1)}, a.options().dtype(torch::kFloat32));
    if (dnnlMatmul(a, b, c)) return c;
  }
#endif
  return widened(torch::mm(a, b));
}

void bmmF32Into(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor out) {
  DUO_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1) &&
                out.size(0) == a.size(0) && out.size(1) == a.size(1) && out.size(2) == b.size(2),
            "bmmF32Into: expected [B, M, K], [B, K, N] and out [B, M, N], got ", a.sizes(), ", ", b.sizes(), " and ",
            out.sizes());
#ifdef DUO_HAVE_DNNL
  if (unroundedOperands(a, b) && out.scalar_type() == torch::kFloat32 && plainStrides(out) && dnnlMatmul(a, b, out))
    return;
#endif
  out.copy_(torch::bmm(a, b));
}

torch::Tensor gramUpperF32(const torch::Tensor& s) {
  // The Fortran BLAS entry point (32-bit integers, as Debian's libblas.so.3 alternatives and
  // LP64 MKL have it), looked up once in what the process has loaded.
  using Ssyrk = void (*)(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
                         const float* a, const int* lda, const float* beta, float* c, const int* ldc);
  static const auto syrk = reinterpret_cast<Ssyrk>(dlsym(RTLD_DEFAULT, "ssyrk_"));
  if (!syrk || !s.device().is_cpu() || s.scalar_type() != torch::kFloat32 || s.dim() != 2) return {};
  const int64_t m = s.size(0), k = s.size(1);
  if (m == 0 || k == 0 || k > kGramMaxWidth || s.stride(1) != 1 || s.stride(0) < k ||
      s.stride(0) > std::numeric_limits<int>::max() || m > std::numeric_limits<int>::max())
    return {};
  torch::Tensor c = torch::zeros({k, k}, s.options());
  // Row-major s with row stride ld is the column-major k x m matrix A = s^T (leading dimension ld),
  // so A A^T = s^T s; its column-major lower triangle is the row-major upper one.
  const int n = static_cast<int>(k), depth = static_cast<int>(m), lda = static_cast<int>(s.stride(0)), ldc = n;
  const float one = 1.0f, zero = 0.0f;
  syrk("L", "N", &n, &depth, &one, s.data_ptr<float>(), &lda, &zero, c.data_ptr<float>(), &ldc);
  return c;
}

torch::Tensor linearF32(const torch::Tensor& x, const torch::Tensor& w) {
  DUO_CHECK(x.dim() >= 1 && w.dim() == 2 && x.size(-1) == w.size(1), "linearF32: expected x [..., ", w.size(1),
            "] for w ", w.sizes(), ", got ", x.sizes());
  if (!(x.scalar_type() == torch::kBFloat16 && bf16ProductsUnrounded(x.device())))
    return widened(torch::linear(x, w));
  std::vector<int64_t> outShape(x.sizes().begin(), x.sizes().end());
  outShape.back() = w.size(0);
  return mmF32(x.reshape({-1, x.size(-1)}), w.t()).view(outShape);
}

}  // namespace duo
