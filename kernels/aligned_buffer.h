// SPDX-License-Identifier: GPL-3.0-or-later
// A zero-initialised, 64-byte aligned, move-only host byte buffer: the storage of packed matrices.
// Packed weights are streamed once per product, so where they sit in pages matters: buffers of
// 4 MiB and more get their own 2 MiB-aligned block with transparent huge pages asked for, and
// medium ones (64 KiB - 4 MiB: the projections of small models, a few hundred KiB each) are
// carved out of shared 32 MiB huge-page chunks (kernels/aligned_buffer.cpp), so that a decode step
// over 120 such buffers does not take a TLB miss every 4 KiB (SmolLM2 int8 decode: +5-15% tokens/s).
#pragma once
#include <cstddef>
#include <cstring>
#include <utility>

namespace duo::kernels {

namespace detail {
// Zeroed storage of `bytes` (> 0), 64-byte aligned; `arena` says whether it came from the pool
// (pass it and the size back to releaseBuffer). Throws std::bad_alloc.
unsigned char* allocateBuffer(std::size_t bytes, bool& arena);
void releaseBuffer(unsigned char* p, std::size_t bytes, bool arena) noexcept;
// Bytes the medium-size pool holds from the system (its chunks), for tests; whether the pool is in
// use (not under AddressSanitizer, which keeps every buffer its own block to catch overruns).
std::size_t arenaChunkBytes();
bool buffersPooled();
}  // namespace detail

class AlignedBuffer {
 public:
  static constexpr std::size_t kAlign = 64;  // one cache line; also the widest vector load

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
  ~AlignedBuffer() { detail::releaseBuffer(m_data, m_size, m_arena); }

  // Drops the old contents; the new bytes are all zero.
  void resize(std::size_t bytes) {
    detail::releaseBuffer(m_data, m_size, m_arena);
    m_data = nullptr;
    m_size = 0;
    m_arena = false;
    if (bytes == 0) return;
    m_data = detail::allocateBuffer(bytes, m_arena);
    m_size = bytes;
  }
  void swap(AlignedBuffer& o) noexcept {
    std::swap(m_data, o.m_data);
    std::swap(m_size, o.m_size);
    std::swap(m_arena, o.m_arena);
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
  bool m_arena = false;  // carved from the medium-size pool
};

}  // namespace duo::kernels
