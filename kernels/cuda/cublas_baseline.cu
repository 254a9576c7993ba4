// SPDX-License-Identifier: GPL-3.0-or-later
// cuBLAS as the vendor baseline of the GPU benchmark: y = W x for a row-major W [rows, cols].
// cuBLAS is column-major, so row-major W is the column-major matrix A = W^T [cols, rows] with
// lda = ld, and y = A^T x.
#include <cublas_v2.h>

#include <mutex>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_matvec.h"

namespace duo::kernels::cuda {

namespace {

void checkBlas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS) fail("cuBLAS: ", what, " failed with status ", static_cast<int>(st));
}

cublasHandle_t handle() {
  static std::once_flag once;
  static cublasHandle_t h = nullptr;
  std::call_once(once, [] { checkBlas(cublasCreate(&h), "cublasCreate"); });
  return h;
}

}  // namespace

void blasGemv(const DenseView& w, const void* x, float* y, int batch) {
  checkMatVec("cuda::blasGemv", w.rows, w.cols, static_cast<const float*>(x), y, batch);
  DUO_CHECK(w.type != ValueType::I8, "cuda::blasGemv: the cuBLAS baseline takes f32, f16 or bf16 weights, not int8 "
                                     "(cuBLAS has no product of row-scaled int8 weights with float inputs)");
  checkView(w, "cuda::blasGemv");
  DUO_CHECK(w.layout == Layout::RowMajor, "cuda::blasGemv: the baseline takes a row-major matrix");
  const int rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols), ld = static_cast<int>(w.ld);
  const float alpha = 1.0f, beta = 0.0f;
  cublasHandle_t h = handle();
  if (w.type == ValueType::F32 && batch == 1) {
    checkBlas(cublasSgemv(h, CUBLAS_OP_T, cols, rows, &alpha, static_cast<const float*>(w.values), ld,
                          static_cast<const float*>(x), 1, &beta, y, 1),
              "cublasSgemv");
    return;
  }
  const cudaDataType t = w.type == ValueType::F32 ? CUDA_R_32F : (w.type == ValueType::F16 ? CUDA_R_16F : CUDA_R_16BF);
  // Y [rows, batch] (col-major, = y [batch, rows] row-major) = A^T [rows, cols] X [cols, batch].
  checkBlas(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, batch, cols, &alpha, w.values, t, ld, x, t, cols, &beta, y,
                         CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx");
}

}  // namespace duo::kernels::cuda
