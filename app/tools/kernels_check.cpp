// SPDX-License-Identifier: GPL-3.0-or-later
// duo_kernels_check: the kernels' self-test and benchmark without torch, Qt, CLI11 or JSON
// libraries, for machines where duoscope-cli cannot be built (scripts/gpu-check.sh falls back to
// it). Same table as `duoscope-cli selftest` (kernels/selftest.h), same harness as
// `duoscope-cli bench kernels` (core/bench/kernel_bench.h). Plain text out; exit 1 on a failure.
//   duo_kernels_check [--cuda] [--cpu] [--bench] [--dtype f32|f16|bf16] [--repeats N]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/bench/kernel_bench.h"
#include "kernels/cuda/cuda_matvec.h"
#include "kernels/selftest.h"

namespace k = duo::kernels;

namespace {

// Returns the number of failed checks.
template <typename Run>
int check(const char* name, Run run) {
  const auto cases = k::selftest::standardCases();
  int checks = 0, failed = 0;
  double worst = 0;
  for (const auto& c : cases)
    for (const auto& r : run(c)) {
      ++checks;
      if (r.passed) {
        worst = std::max(worst, r.error / r.tolerance);
      } else if (++failed <= 20) {
        std::printf("  FAIL %s %s on %s: %s\n", c.name.c_str(), r.kernel.c_str(), r.backend.c_str(), r.message.c_str());
      }
    }
  std::printf("%s: %d checks over %zu cases, %d failed, worst error %.2f x tolerance\n", name, checks, cases.size(),
              failed, worst);
  return failed;
}

}  // namespace

int main(int argc, char** argv) {
  bool cuda = false, cpu = false, bench = false;
  std::string dtype = "f16";
  int repeats = 50;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cuda")) cuda = true;
    else if (!std::strcmp(argv[i], "--cpu")) cpu = true;
    else if (!std::strcmp(argv[i], "--bench")) bench = true;
    else if (!std::strcmp(argv[i], "--dtype") && i + 1 < argc) dtype = argv[++i];
    else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--cuda] [--cpu] [--bench] [--dtype f32|f16|bf16] [--repeats N]\n", argv[0]);
      return 2;
    }
  }
  try {
    int failed = 0;
    if (cpu)
      failed += check("cpu", [](const k::selftest::Case& c) {
        std::vector<k::selftest::Result> all;
        for (k::cpu::Isa isa : k::cpu::supportedIsas()) {
          auto r = k::selftest::runCpu(c, isa);
          all.insert(all.end(), r.begin(), r.end());
        }
        return all;
      });
    const k::cuda::Status st = k::cuda::status();
    if (cuda && !st.available) {
      std::printf("cuda: skipped: %s\n", st.reason.c_str());
      return 2;
    }
    if (cuda) {
      std::printf("cuda device: %s\n", st.device.c_str());
      failed += check("cuda", [](const k::selftest::Case& c) { return k::selftest::runCuda(c); });
    }
    if (bench) {
      const std::int64_t shapes[][2] = {{4096, 4096}, {4096, 11008}, {11008, 4096}, {576, 576}, {1536, 576}, {576, 1536}};
      std::printf("\n%-12s %20s %20s %20s %20s %20s\n", "shape", "blas_dense", "dense", "act_sparse", "weight_sparse",
                  "dual_sparse");
      double copy = 0;
      for (const auto& s : shapes) {
        duo::perf::KernelBenchConfig c;
        c.rows = s[0];
        c.cols = s[1];
        c.type = k::parseValueType(dtype);
        c.cuda = cuda;
        c.repeats = repeats;
        const auto r = duo::perf::runKernelBench(c);
        copy = r.copyBandwidthGbs;
        std::printf("%5lldx%-6lld", static_cast<long long>(c.rows), static_cast<long long>(c.cols));
        for (duo::perf::Kernel kind : duo::perf::kAllKernels)
          std::printf(" %9.1fus x%6.2f  ", r.at(kind).medianUs, r.at(kind).speedupVsBlas);
        std::printf("\n");
      }
      std::printf("copy bandwidth %.1f GB/s; W50%% A50%%, dtype %s\n", copy, dtype.c_str());
    }
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "duo_kernels_check: %s\n", e.what());
    return 1;
  }
}
