// SPDX-License-Identifier: GPL-3.0-or-later
// AlignedBuffer's storage (kernels/aligned_buffer.h): large buffers on their own huge-page blocks,
// medium ones first-fit in shared huge-page chunks.
#include "kernels/aligned_buffer.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace duo::kernels::detail {

namespace {

constexpr std::size_t kAlign = AlignedBuffer::kAlign;
constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kLarge = std::size_t(4) << 20;    // and up: a block of their own
constexpr std::size_t kMedium = std::size_t(64) << 10;  // and up (below kLarge): from the pool
constexpr std::size_t kChunk = std::size_t(32) << 20;   // the pool's unit from the system

// The sanitizers keep their own bookkeeping per allocation: under them every buffer is its own
// block, so an overrun past a buffer is still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPool = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPool = false;
#else
constexpr bool kPool = true;
#endif
#else
constexpr bool kPool = true;
#endif

unsigned char* hugeBlock(std::size_t bytes) {
  auto* p = static_cast<unsigned char*>(std::aligned_alloc(kHugePage, bytes));  // bytes: a multiple of 2 MiB
  if (!p) throw std::bad_alloc();
#if defined(__linux__)
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

// One chunk: its free ranges (offset -> length, coalesced) and how many buffers live in it.
struct Chunk {
  unsigned char* base = nullptr;
  std::map<std::size_t, std::size_t> free;
  std::size_t live = 0;
};

class Pool {
 public:
  unsigned char* allocate(std::size_t bytes) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    for (auto& c : m_chunks)
      if (unsigned char* p = take(*c, bytes)) return p;
    auto c = std::make_unique<Chunk>();
    c->base = hugeBlock(kChunk);
    c->free.emplace(0, kChunk);
    unsigned char* p = take(*c, bytes);
    m_chunks.push_back(std::move(c));
    return p;
  }
  // p must come from allocate (false, and nothing done, when no chunk holds it).
  bool release(unsigned char* p, std::size_t bytes) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    for (auto it = m_chunks.begin(); it != m_chunks.end(); ++it) {
      Chunk& c = **it;
      if (p < c.base || p >= c.base + kChunk) continue;
      auto at = c.free.emplace(static_cast<std::size_t>(p - c.base), bytes).first;
      auto next = std::next(at);
      if (next != c.free.end() && at->first + at->second == next->first) {
        at->second += next->second;
        c.free.erase(next);
      }
      if (at != c.free.begin()) {
        auto prev = std::prev(at);
        if (prev->first + prev->second == at->first) {
          prev->second += at->second;
          c.free.erase(at);
        }
      }
      if (--c.live == 0) {  // empty: back to the system
        std::free(c.base);
        m_chunks.erase(it);
      }
      return true;
    }
    return false;
  }
  std::size_t chunkBytes() {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_chunks.size() * kChunk;
  }

 private:
  // First fit in c; null when no free range is long enough.
  static unsigned char* take(Chunk& c, std::size_t bytes) {
    for (auto it = c.free.begin(); it != c.free.end(); ++it) {
      if (it->second < bytes) continue;
      const std::size_t off = it->first, left = it->second - bytes;
      c.free.erase(it);
      if (left > 0) c.free.emplace(off + bytes, left);
      ++c.live;
      return c.base + off;
    }
    return nullptr;
  }

  std::mutex m_mutex;
  std::vector<std::unique_ptr<Chunk>> m_chunks;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: buffers in static objects may outlive it
  return *p;
}

// A pool buffer's length is rounded to whole 4 KiB pages; the rounding is recomputed on release.
std::size_t pooled(std::size_t bytes) { return (bytes + 4095) / 4096 * 4096; }

}  // namespace

unsigned char* allocateBuffer(std::size_t bytes, bool& arena) {
  arena = false;
  unsigned char* p = nullptr;
  std::size_t zeroed = bytes;
  if (bytes >= kLarge) {
    zeroed = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    p = hugeBlock(zeroed);
  } else if (kPool && bytes >= kMedium) {
    zeroed = pooled(bytes);
    p = pool().allocate(zeroed);
    arena = true;
  } else {
    zeroed = (bytes + kAlign - 1) / kAlign * kAlign;
    p = static_cast<unsigned char*>(std::aligned_alloc(kAlign, zeroed));
    if (!p) throw std::bad_alloc();
  }
  std::memset(p, 0, zeroed);
  return p;
}

void releaseBuffer(unsigned char* p, std::size_t bytes, bool arena) noexcept {
  if (p == nullptr) return;
  if (arena) pool().release(p, pooled(bytes));
  else std::free(p);
}

std::size_t arenaChunkBytes() { return pool().chunkBytes(); }

bool buffersPooled() { return kPool; }

}  // namespace duo::kernels::detail
