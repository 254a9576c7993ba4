// SPDX-License-Identifier: GPL-3.0-or-later
// Built when CMake found no nvcc: the CUDA API exists, status() says why nothing can run, and every
// other call throws duo::Error, so callers compile and report the same way on every machine.
#include "kernels/cuda/cuda_matvec.h"

namespace duo::kernels::cuda {

namespace {
[[noreturn]] void unavailable(const char* who) {
  fail("cuda::", who, ": this build has no CUDA kernels (nvcc was not found when CMake configured it)");
}
}  // namespace

Status status() {
  Status s;
  s.reason = "built without CUDA (nvcc was not found when CMake configured this build)";
  return s;
}

bool memoryInfo(std::size_t*, std::size_t*) { return false; }

DeviceBuffer::DeviceBuffer(std::size_t) { unavailable("DeviceBuffer"); }
DeviceBuffer::~DeviceBuffer() = default;
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : m_ptr(o.m_ptr), m_bytes(o.m_bytes) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&&) noexcept { return *this; }
void DeviceBuffer::upload(const void*, std::size_t) { unavailable("DeviceBuffer::upload"); }
void DeviceBuffer::download(void*, std::size_t) const { unavailable("DeviceBuffer::download"); }
void DeviceBuffer::fill(unsigned char) { unavailable("DeviceBuffer::fill"); }

DeviceDense::DeviceDense(const DenseMatrix&) { unavailable("DeviceDense"); }
DeviceSparseColumns::DeviceSparseColumns(const SparseColumns&) { unavailable("DeviceSparseColumns"); }
DeviceNm::DeviceNm(const NmMatrix&) { unavailable("DeviceNm"); }

void denseGemv(const DenseView&, const float*, float*, int) { unavailable("denseGemv"); }
void actSparseGemv(const DenseView&, const float*, float*, int) { unavailable("actSparseGemv"); }
void weightSparseSpmv(const SparseColumnsView&, const float*, float*, int) { unavailable("weightSparseSpmv"); }
void weightSparseSpmv(const NmView&, const float*, float*, int) { unavailable("weightSparseSpmv"); }
void dualSparseSpmspv(const SparseColumnsView&, const float*, float*, int) { unavailable("dualSparseSpmspv"); }
void dualSparseSpmspv(const NmView&, const float*, float*, int) { unavailable("dualSparseSpmspv"); }
void blasGemv(const DenseView&, const void*, float*, int) { unavailable("blasGemv"); }
void synchronize() { unavailable("synchronize"); }
double medianMicros(const std::function<void(int)>&, int, int) { unavailable("medianMicros"); }
double copyBandwidthGbs(std::size_t) { unavailable("copyBandwidthGbs"); }

}  // namespace duo::kernels::cuda
