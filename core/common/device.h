// Which device LibTorch will compute on, as the UI and the CLI show it. Torch-free header.
#pragma once
#include <string>

namespace duo {

struct DeviceInfo {
  bool cuda = false;        // torch::cuda::is_available()
  int cudaDevices = 0;
  std::string name;         // "cpu" or "cuda:0"
  std::string description;  // human line, e.g. "CPU (2 threads, LibTorch 1.13.1)"
  std::string torchVersion;
  int threads = 1;
};

DeviceInfo deviceInfo();

// Uses every core for LibTorch's intra-op pool unless OMP_NUM_THREADS says otherwise (Debian's
// LibTorch 1.13 starts with 1 thread here). Call once at start-up, before any tensor work.
void initComputeThreads();

// Peak resident set size of this process, bytes (from getrusage).
long long peakRssBytes();
// Current resident set size, bytes (from /proc/self/statm), 0 if unknown.
long long currentRssBytes();

}  // namespace duo
