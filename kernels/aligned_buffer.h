// SPDX-License-Identifier: GPL-3.0-or-later
// A zero-initialised, 64-byte aligned, move-only host byte buffer: the storage of packed matrices.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace duo::kernels {

class AlignedBuffer {
 public:
  static constexpr std::size_t kAlign = 64;  // one cache line; also the widest vector load
  static constexpr std::size_t kHugePage = std::size_t(2) << 20;
  static constexpr std::size_t kHugeThreshold = std::size_t(4) << 20;

  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t bytes) { resize(bytes); }
  AlignedBuffer(const AlignedBuffer& o) : AlignedBuffer(o.m_size) {
    if (m_size) std::memcpy(m_data, o.m_data, m_size);
  }
  AlignedBuffer& operator=(const AlignedBuffer& o) {
    if (this != &o) {
      AlignedBuffer tmp(o);
      swap(tmp);
    }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept { swap(o); }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    swap(o);
    return *this;
  }
  ~AlignedBuffer() { std::free(m_data); }

  // Drops the old contents; the new bytes are all zero.
  void resize(std::size_t bytes) {
    std::free(m_data);
    m_data = nullptr;
    m_size = 0;
    if (bytes == 0) return;
    // Large buffers (packed weights) go on 2 MiB boundaries and ask for transparent huge pages:
    // a mat-vec streams them once per call, and 4 KiB pages would cost a TLB miss every 4 KiB.
    const bool huge = bytes >= kHugeThreshold;
    const std::size_t align = huge ? kHugePage : kAlign;
    const std::size_t rounded = (bytes + align - 1) / align * align;
    m_data = static_cast<unsigned char*>(std::aligned_alloc(align, rounded));
    if (!m_data) throw std::bad_alloc();
#if defined(__linux__)
    if (huge) madvise(m_data, rounded, MADV_HUGEPAGE);
#endif
    std::memset(m_data, 0, rounded);
    m_size = bytes;
  }
  void swap(AlignedBuffer& o) noexcept {
    std::swap(m_data, o.m_data);
    std::swap(m_size, o.m_size);
  }

  unsigned char* data() { return m_data; }
  const unsigned char* data() const { return m_data; }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(m_data);
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(m_data);
  }
  std::size_t size() const { return m_size; }

 private:
  unsigned char* m_data = nullptr;
  std::size_t m_size = 0;
};

}  // namespace duo::kernels
