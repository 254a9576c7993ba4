// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/device.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "core/common/version.h"

namespace duo {

void tuneProcess(int argc, char** argv) {
  (void)argc;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    setenv("GOMP_SPINCOUNT", "10000", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: carry on with libgomp's default
  }
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TOP_PAD, 16 * 1024 * 1024);
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
