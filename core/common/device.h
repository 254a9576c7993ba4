// SPDX-License-Identifier: GPL-3.0-or-later
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

// What bf16 matrix products are on a device (prune --compute-dtype). On the CPU LibTorch's oneDNN
// path needs AVX-512 (BW, VL and DQ); without it LibTorch falls back to a reference GEMM on one
// thread that is ~25x slower than f32 and rounds its partial sums to bf16, so calibration emulates
// bf16 products there (operands rounded to bf16, products in f32: core/prune/input_stats.h,
// bf16ProductsEmulated; docs/method.md, "Compute dtype"). CUDA computes them on its tensor cores.
struct Bf16Products {
  bool fast = false;      // native bf16 products: CUDA, or a CPU with AVX-512 BF16 or AMX
  bool fallback = false;  // LibTorch's would be the one-thread reference GEMM (a CPU without AVX-512): emulated
  std::string detail;     // why, for messages: "CPU with AVX-512 BF16 / AMX", "CPU without AVX-512 ..."
};
Bf16Products bf16Products(bool cuda);
// `auto` resolved: "bf16" where bf16Products(cuda).fast, else "f32"; "f32" and "bf16" pass
// through unchanged.
std::string resolveComputeDtype(const std::string& requested, bool cuda);

// Process-wide CPU runtime settings; call first thing in main(), before any other work.
//  - OpenMP threads spin only briefly (GOMP_SPINCOUNT=10000, unless OMP_WAIT_POLICY or
//    GOMP_SPINCOUNT is set) before they sleep. libgomp's default (300000 spins, ~0.1 ms) keeps
//    LibTorch's threads burning both cores after every parallel region while OpenBLAS's own pthreads
//    need them: on 2 cores SmolLM2's batch-4 decode in LibTorch ran at 13.9 tokens/s with the
//    default and 53 with 10000 spins. Sleeping at once (OMP_WAIT_POLICY=PASSIVE) suits LibTorch
//    but makes each of the ~240 parallel regions of a packed decode step wait for a thread wake-up
//    (our dual-sparse step: 44 tokens/s passive, 64 at 10000 spins). libgomp reads the variable when
//    it loads, so the process re-executes itself once with it set (if that fails, it carries on).
//  - glibc keeps freed buffers up to 32 MB in its heap instead of unmapping them, so the per-layer
//    temporaries of a forward pass are not page-faulted in again on every call.
//  - LibTorch's CPU buffers of 32 MB and more (mapped fresh by glibc every time) ask for
//    transparent huge pages, which faults them in 512 times less often.
void tuneProcess(int argc, char** argv);

// LibTorch's CPU tensors of 32 MB and more from then on start on 2 MB boundaries and ask for
// transparent huge pages (MADV_HUGEPAGE); smaller ones are allocated as before. tuneProcess calls
// it; idempotent.
void useHugePagesForLargeTensors();

// Uses every core for LibTorch's intra-op pool unless OMP_NUM_THREADS says otherwise (Debian's
// LibTorch 1.13 starts with 1 thread here). Call once at start-up, before any tensor work.
void initComputeThreads();

// Peak resident set size of this process image, bytes (VmHWM of /proc/self/status; getrusage as a
// fallback, which would count the parent it was forked from).
long long peakRssBytes();
// Current resident set size, bytes (from /proc/self/statm), 0 if unknown.
long long currentRssBytes();
// Restarts the process's high-water mark at the current resident size (Linux: "5" written to
// /proc/self/clear_refs), so that peakRssBytes() measures from here: the window calls it before
// each run, whose record must hold that run's peak, not the session's (a larger model opened, a
// sensitivity or a speed measurement earlier in the same process). False when not supported.
bool resetPeakRss();

}  // namespace duo
