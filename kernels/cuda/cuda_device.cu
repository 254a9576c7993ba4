// SPDX-License-Identifier: GPL-3.0-or-later
// Device plumbing for the CUDA kernels: status, device buffers, uploads of the packed formats,
// scratch space, event timing and the copy-bandwidth probe.
#include <algorithm>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <vector>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_matvec.h"

namespace duo::kernels::cuda {

namespace detail {

void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a sticky launch error so later status() calls see the device state
  fail("cuda: ", what, " at ", file, ":", line, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

void* scratch(int slot, std::size_t bytes) {
  static std::mutex mutex;
  static std::vector<DeviceBuffer> slots;
  std::lock_guard<std::mutex> lock(mutex);
  if (slots.size() <= static_cast<std::size_t>(slot)) slots.resize(static_cast<std::size_t>(slot) + 1);
  DeviceBuffer& b = slots[static_cast<std::size_t>(slot)];
  if (b.size() < bytes) b = DeviceBuffer(std::max<std::size_t>(bytes, 1 << 16));
  return b.data();
}

int multiprocessors() {
  static const int n = [] {
    int dev = 0, count = 0;
    DUO_CUDA_CHECK(cudaGetDevice(&dev));
    DUO_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, dev));
    return count;
  }();
  return n;
}

}  // namespace detail

Status status() {
  Status s;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    s.reason = std::string("no usable CUDA device or driver (cudaGetDeviceCount: ") + cudaGetErrorString(e) + ")";
    return s;
  }
  s.devices = n;
  if (n == 0) {
    s.reason = "no CUDA device";
    return s;
  }
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
    cudaGetLastError();
    s.reason = "cannot read the properties of CUDA device 0";
    return s;
  }
  std::ostringstream line;
  line << p.name << " (sm_" << p.major << p.minor << ", " << std::fixed << std::setprecision(1)
       << static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0) << " GiB)";
  s.device = line.str();
  if (p.major < 8) {
    s.reason = "device " + s.device + " is older than sm_80, the oldest these kernels are built for";
    return s;
  }
  s.available = true;
  return s;
}

// ---- DeviceBuffer ----------------------------------------------------------------------------
DeviceBuffer::DeviceBuffer(std::size_t bytes) : m_bytes(bytes) {
  if (bytes) DUO_CUDA_CHECK(cudaMalloc(&m_ptr, bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (m_ptr) cudaFree(m_ptr);
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : m_ptr(o.m_ptr), m_bytes(o.m_bytes) {
  o.m_ptr = nullptr;
  o.m_bytes = 0;
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  std::swap(m_ptr, o.m_ptr);
  std::swap(m_bytes, o.m_bytes);
  return *this;
}
void DeviceBuffer::upload(const void* host, std::size_t bytes) {
  DUO_CHECK(bytes <= m_bytes, "cuda::DeviceBuffer::upload: ", bytes, " bytes into a buffer of ", m_bytes);
  if (bytes) DUO_CUDA_CHECK(cudaMemcpy(m_ptr, host, bytes, cudaMemcpyHostToDevice));
}
void DeviceBuffer::download(void* host, std::size_t bytes) const {
  DUO_CHECK(bytes <= m_bytes, "cuda::DeviceBuffer::download: ", bytes, " bytes from a buffer of ", m_bytes);
  if (bytes) DUO_CUDA_CHECK(cudaMemcpy(host, m_ptr, bytes, cudaMemcpyDeviceToHost));
}
void DeviceBuffer::fill(unsigned char byte) {
  if (m_bytes) DUO_CUDA_CHECK(cudaMemset(m_ptr, byte, m_bytes));
}

namespace {
DeviceBuffer uploadBytes(const void* host, std::size_t bytes) {
  DeviceBuffer b(bytes);
  b.upload(host, bytes);
  return b;
}

// Uploads an I8 matrix's row scales (host [rows] f32) into `into` and returns the device copy; the
// float types have none: nothing is uploaded and the view's pointer is null.
const float* uploadRowScales(DeviceBuffer& into, ValueType type, const float* host, std::int64_t rows) {
  if (type != ValueType::I8) return nullptr;
  into = uploadBytes(host, static_cast<std::size_t>(rows) * sizeof(float));
  return into.as<float>();
}
}  // namespace

// ---- device copies of the formats ---------------------------------------------------------------
DeviceDense::DeviceDense(const DenseMatrix& m) : DeviceMatrix(m.view()) {
  const DenseView h = m.view();
  const std::int64_t outer = h.layout == Layout::RowMajor ? h.rows : h.cols;  // rows or columns of ld elements
  m_values = uploadBytes(h.values, static_cast<std::size_t>(outer * h.ld) * valueBytes(h.type));
  m_view.values = m_values.data();
  m_view.rowScale = uploadRowScales(m_rowScale, h.type, h.rowScale, h.rows);
}

DeviceSparseColumns::DeviceSparseColumns(const SparseColumns& m) : DeviceMatrix(m.view()) {
  const SparseColumnsView& h = m.view();
  const std::size_t records = static_cast<std::size_t>(h.strips) * static_cast<std::size_t>(h.cols);
  m_colStart = uploadBytes(h.colStart, (records + 1) * sizeof(std::uint32_t));
  m_values = uploadBytes(h.values, static_cast<std::size_t>(h.nnz + kValuePad) * valueBytes(h.type));
  m_view.colStart = m_colStart.as<std::uint32_t>();
  m_view.values = m_values.data();
  if (h.index == IndexKind::Bitmap) {
    m_bitmap = uploadBytes(h.bitmap, records * static_cast<std::size_t>(h.bitmapBytes));
    m_view.bitmap = m_bitmap.as<std::uint8_t>();
  } else {
    m_rowIndex = uploadBytes(h.rowIndex, static_cast<std::size_t>(h.nnz) * sizeof(std::uint16_t));
    m_view.rowIndex = m_rowIndex.as<std::uint16_t>();
  }
  m_view.rowScale = uploadRowScales(m_rowScale, h.type, h.rowScale, h.rows);
}

DeviceNm::DeviceNm(const NmMatrix& m) : DeviceMatrix(m.view()) {
  const NmView& h = m.view();
  m_values = uploadBytes(h.values, static_cast<std::size_t>(h.rows * h.valuesPerRow() + kValuePad) * valueBytes(h.type));
  m_mask = uploadBytes(h.mask, static_cast<std::size_t>(h.rows * h.maskRowBytes));
  m_view.values = m_values.data();
  m_view.mask = m_mask.as<std::uint8_t>();
  m_view.rowScale = uploadRowScales(m_rowScale, h.type, h.rowScale, h.rows);
}

bool memoryInfo(std::size_t* freeBytes, std::size_t* totalBytes) {
  std::size_t f = 0, t = 0;
  if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (freeBytes) *freeBytes = f;
  if (totalBytes) *totalBytes = t;
  return true;
}

// ---- timing -------------------------------------------------------------------------------------
void synchronize() { DUO_CUDA_CHECK(cudaDeviceSynchronize()); }

double medianMicros(const std::function<void(int)>& run, int warmup, int repeats) {
  DUO_CHECK(repeats >= 1, "cuda::medianMicros: repeats must be >= 1, got ", repeats);
  for (int i = 0; i < warmup; ++i) run(i);
  std::vector<cudaEvent_t> events(static_cast<std::size_t>(2 * repeats));
  for (auto& e : events) DUO_CUDA_CHECK(cudaEventCreate(&e));
  for (int i = 0; i < repeats; ++i) {
    DUO_CUDA_CHECK(cudaEventRecord(events[2 * i]));
    run(warmup + i);
    DUO_CUDA_CHECK(cudaEventRecord(events[2 * i + 1]));
  }
  DUO_CUDA_CHECK(cudaEventSynchronize(events.back()));
  std::vector<double> us(static_cast<std::size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    float ms = 0.0f;
    DUO_CUDA_CHECK(cudaEventElapsedTime(&ms, events[2 * i], events[2 * i + 1]));
    us[static_cast<std::size_t>(i)] = 1000.0 * ms;
  }
  for (auto& e : events) cudaEventDestroy(e);
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

double copyBandwidthGbs(std::size_t bytes) {
  DeviceBuffer a(bytes), b(bytes);
  a.fill(1);
  const double us = medianMicros(
      [&](int i) {
        if (i % 2)
          DUO_CUDA_CHECK(cudaMemcpyAsync(a.data(), b.data(), bytes, cudaMemcpyDeviceToDevice));
        else
          DUO_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));
      },
      3, 20);
  return 2.0 * static_cast<double>(bytes) / (us * 1e-6) / 1e9;
}

}  // namespace duo::kernels::cuda
