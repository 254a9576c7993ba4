// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/device.h"

#include <c10/core/Allocator.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>

#include "core/common/version.h"

namespace duo {

namespace {

// LibTorch's CPU allocator, with buffers of 32 MB and more (those glibc maps fresh from the system
// on every allocation and unmaps on free) on 2 MB boundaries with MADV_HUGEPAGE: a fresh 100 MB
// buffer is then faulted in as 50 huge pages instead of 25,600 small ones (alloc + first write + free
// of 100 MB on the 2-core machine: 82 ms with small pages, 18-24 ms with huge ones, 6 ms to write it
// once resident). Calibration allocates its streams' next-site inputs per group and layer: at 64 x 256
// windows on SmolLM2 that is ~15 GB of fresh buffers in a run. Smaller buffers go to LibTorch's own
// allocator (glibc's heap keeps and reuses them). Where THP is off, madvise changes nothing.
class HugePageCpuAllocator final : public c10::Allocator {
 public:
  explicit HugePageCpuAllocator(c10::Allocator* base) : m_base(base) { baseRawDeleter() = base->raw_deleter(); }
  // LibTorch 1.13 declares allocate() const; 2.x declares it non-const and adds copy_data(): each
  // build overrides the one its c10::Allocator has (hence no `override` on these three).
  c10::DataPtr allocate(size_t n) const { return allocateImpl(n); }
  c10::DataPtr allocate(size_t n) { return allocateImpl(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  // The raw interface (raw_allocate / raw_deallocate: one deleter for every buffer, used by oneDNN's
  // bf16 products among others) gets a deleter that frees the large buffers itself and hands the
  // others to the base allocator's: a large buffer's address is remembered while it lives.
  c10::DeleterFnPtr raw_deleter() const override { return &rawRelease; }

 private:
  c10::DataPtr allocateImpl(size_t n) const {
    if (n < kLarge) return m_base->allocate(n);
    const size_t bytes = (n + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, bytes);
    TORCH_CHECK(p != nullptr, "out of memory: could not allocate ", n, " bytes on the CPU");
    madvise(p, bytes, MADV_HUGEPAGE);
    {
      const std::lock_guard<std::mutex> lock(largeMutex());
      large().insert(p);
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  static constexpr size_t kLarge = size_t(32) << 20;  // glibc's mmap threshold as tuneProcess sets it
  static constexpr size_t kHugePage = size_t(2) << 20;
  static std::mutex& largeMutex() {
    static std::mutex m;
    return m;
  }
  static std::unordered_set<void*>& large() {  // the large buffers alive
    static std::unordered_set<void*> s;
    return s;
  }
  static c10::DeleterFnPtr& baseRawDeleter() {
    static c10::DeleterFnPtr d = nullptr;
    return d;
  }
  static void release(void* p) {
    {
      const std::lock_guard<std::mutex> lock(largeMutex());
      large().erase(p);
    }
    std::free(p);
  }
  static void rawRelease(void* p) {
    bool mine = false;
    {
      const std::lock_guard<std::mutex> lock(largeMutex());
      mine = large().erase(p) > 0;
    }
    if (mine || baseRawDeleter() == nullptr)
      std::free(p);  // (a base without a raw deleter never hands out raw buffers: raw_allocate asserts)
    else
      baseRawDeleter()(p);
  }
  c10::Allocator* m_base;
};

}  // namespace

void tuneProcess(int argc, char** argv) {
  (void)argc;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    setenv("GOMP_SPINCOUNT", "10000", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: carry on with libgomp's default
  }
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TOP_PAD, 16 * 1024 * 1024);
  useHugePagesForLargeTensors();
}

void useHugePagesForLargeTensors() {
  static HugePageCpuAllocator* allocator = [] {
    static HugePageCpuAllocator a(c10::GetAllocator(c10::DeviceType::CPU));
    c10::SetAllocator(c10::DeviceType::CPU, &a, /*priority=*/1);
    return &a;
  }();
  (void)allocator;
}

void initComputeThreads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env && *env) return;
  const unsigned n = std::thread::hardware_concurrency();
  if (n > 0 && at::get_num_threads() < static_cast<int>(n)) at::set_num_threads(static_cast<int>(n));
}

DeviceInfo deviceInfo() {
  DeviceInfo d;
  d.torchVersion = kTorchVersion;
  d.threads = at::get_num_threads();
  d.cuda = torch::cuda::is_available();
  d.cudaDevices = d.cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
  d.name = d.cuda ? "cuda:0" : "cpu";
  std::ostringstream os;
  if (d.cuda)
    os << "CUDA (" << d.cudaDevices << " device" << (d.cudaDevices > 1 ? "s" : "") << ", LibTorch " << d.torchVersion << ")";
  else
    os << "CPU (" << d.threads << " threads, LibTorch " << d.torchVersion << ")";
  d.description = os.str();
  return d;
}

Bf16Products bf16Products(bool cuda) {
  Bf16Products b;
  if (cuda) {
    b.fast = true;
    b.detail = "CUDA";
    return b;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  // avx512_bf16 / AMX are read from /proc/cpuinfo: older compilers' __builtin_cpu_supports lacks them.
  bool native = false;
  {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("flags", 0) == 0) {
        native = line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
        break;
      }
  }
  b.fast = avx512 && native;
  b.fallback = !avx512;
  b.detail = !avx512 ? "CPU without AVX-512: bf16 products are emulated (operands rounded to bf16, multiplied in f32)"
             : native ? "CPU with AVX-512 BF16 / AMX"
                      : "CPU with AVX-512 but no BF16 instructions: oneDNN converts, about f32's speed";
#else
  b.fallback = true;
  b.detail = "CPU without AVX-512: bf16 products are emulated (operands rounded to bf16, multiplied in f32)";
#endif
  return b;
}

std::string resolveComputeDtype(const std::string& requested, bool cuda) {
  if (requested != "auto") return requested;
  return bf16Products(cuda).fast ? "bf16" : "f32";
}

long long peakRssBytes() {
  // VmHWM is this address space's own high-water mark. getrusage's ru_maxrss is not: it keeps the
  // resident size of the process this one was forked from, at the fork (a CLI started by a 2 GB
  // test process reported 2 GB whatever it did), so it is only the fallback.
  std::ifstream f("/proc/self/status");
  std::string key;
  long long kb = 0;
  while (f >> key) {
    if (key == "VmHWM:" && (f >> kb)) return kb * 1024;
    std::getline(f, key);
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<long long>(ru.ru_maxrss) * 1024;
}

bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

long long currentRssBytes() {
  std::ifstream f("/proc/self/statm");
  long long pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace duo
