// SPDX-License-Identifier: GPL-3.0-or-later
// CUDA versions of the four mat-vec products (see kernels/matvec.h for the contract), with the
// same signatures and checks; the views' pointers and x, y are device memory. Values may be
// f32, f16, bf16 or int8 (an int8 view's rowScale is a device array too; each output row's sum of
// q * x is multiplied by its scale); every kernel accumulates in f32. Kernels run on the default
// stream and return without waiting (call synchronize() to wait and surface errors).
// This header needs no CUDA headers: builds without nvcc link cuda_stub.cpp, where status() says
// why nothing runs and every other call throws duo::Error.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "kernels/matvec.h"

namespace duo::kernels::cuda {

struct Status {
  bool available = false;  // a kernel can run now
  int devices = 0;
  std::string device;      // e.g. "NVIDIA H200 (sm_90, 139.8 GiB)"
  std::string reason;      // why not available, e.g. "built without CUDA" or "no CUDA device: ..."
};
Status status();  // never throws

// Free and total memory of the current CUDA device (cudaMemGetInfo). False (and nothing written)
// when there is no usable device or this build has no CUDA. Never throws.
bool memoryInfo(std::size_t* freeBytes, std::size_t* totalBytes);

// A block of device memory (move-only).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void upload(const void* host, std::size_t bytes);  // host -> device, bytes <= size()
  void download(void* host, std::size_t bytes) const;
  void fill(unsigned char byte);  // every byte (0xff makes f32 NaN: the tests' poison)
  void* data() { return m_ptr; }
  const void* data() const { return m_ptr; }
  template <typename T>
  T* as() {
    return static_cast<T*>(m_ptr);
  }
  std::size_t size() const { return m_bytes; }

 private:
  void* m_ptr = nullptr;
  std::size_t m_bytes = 0;
};

// Device copies of the packed formats; view() has device pointers and the host object's shape
// (rowScale: the device copy of an I8 matrix's row scales, null for the float types). Each format's
// constructor uploads its arrays and points m_view at them.
template <typename View>
class DeviceMatrix {
 public:
  View view() const { return m_view; }

 protected:
  DeviceMatrix() = default;
  explicit DeviceMatrix(const View& host) : m_view(host) {}

  DeviceBuffer m_rowScale;  // [rows] f32 (I8 only)
  View m_view;
};

class DeviceDense : public DeviceMatrix<DenseView> {
 public:
  explicit DeviceDense(const DenseMatrix& m);

 private:
  DeviceBuffer m_values;
};

class DeviceSparseColumns : public DeviceMatrix<SparseColumnsView> {
 public:
  explicit DeviceSparseColumns(const SparseColumns& m);

 private:
  DeviceBuffer m_colStart, m_bitmap, m_rowIndex, m_values;
};

class DeviceNm : public DeviceMatrix<NmView> {
 public:
  explicit DeviceNm(const NmMatrix& m);

 private:
  DeviceBuffer m_values, m_mask;
};

#include "kernels/matvec_products.inc"

// The vendor baseline: y = W x with cuBLAS for a row-major dense W. x [batch, cols] is stored in
// W's type (cuBLAS multiplies like types): f32 -> cublasSgemv (cublasSgemm for batch > 1);
// f16/bf16 -> cublasGemmEx with f32 output and f32 compute. Int8 (row-scaled) weights are refused
// with duo::Error: cuBLAS has no product of int8 weights and per-row scales with float inputs.
void blasGemv(const DenseView& w, const void* x, float* y, int batch = 1);

// Waits for the device; throws duo::Error with the CUDA error text if a kernel failed.
void synchronize();

// Median device time in microseconds of run(i) over `repeats` calls after `warmup` calls, each
// timed with CUDA events on the default stream; i counts calls so the caller can rotate buffers.
double medianMicros(const std::function<void(int)>& run, int warmup, int repeats);

// Device-to-device copy bandwidth in GB/s ((read + written bytes) / time), over `bytes`-sized
// buffers.
double copyBandwidthGbs(std::size_t bytes);

}  // namespace duo::kernels::cuda
