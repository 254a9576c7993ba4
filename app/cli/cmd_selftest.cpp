// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli selftest: the kernels' reference comparisons of the unit and cuda tests
// (kernels/selftest.h), runnable on any machine without Qt: CPU always (every instruction set the
// CPU has), CUDA with --cuda when a device exists (otherwise it says why it skipped).
#include <chrono>
#include <cmath>
#include <cstdio>

#include "app/cli/cli.h"
#include "kernels/cuda/cuda_matvec.h"
#include "kernels/selftest.h"

namespace duo::cli {
namespace {

namespace k = duo::kernels;

struct SelftestArgs {
  bool cuda = false;
  bool requireCuda = false;
  bool cudaOnly = false;
  bool json = false;
};

// Runs `run(case)` over every case; gathers counts, the worst error/tolerance ratio, failures.
template <typename Run>
nlohmann::json runAll(const std::vector<k::selftest::Case>& cases, Run run, const ProgressFn& progress,
                      const std::string& stage, bool& passed) {
  const auto t0 = std::chrono::steady_clock::now();
  int checks = 0, failed = 0;
  double worst = 0.0;
  nlohmann::json failures = nlohmann::json::array();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    reportProgress(progress, Progress{stage, cases[i].name, static_cast<std::int64_t>(i),
                                      static_cast<std::int64_t>(cases.size())});
    for (const k::selftest::Result& r : run(cases[i])) {
      ++checks;
      if (r.passed) {
        worst = std::max(worst, r.error / r.tolerance);
        continue;
      }
      ++failed;
      if (failures.size() < 50)
        failures.push_back({{"case", cases[i].name},
                            {"kernel", r.kernel},
                            {"backend", r.backend},
                            {"error", std::isnan(r.error) ? nlohmann::json(nullptr) : nlohmann::json(r.error)},
                            {"tolerance", r.tolerance},
                            {"message", r.message}});
    }
  }
  if (failed) passed = false;
  return {{"cases", cases.size()},
          {"checks", checks},
          {"failed", failed},
          {"worst_error_over_tolerance", worst},
          {"failures", failures},
          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
}

Registrar reg_selftest("selftest", [](CLI::App& app) {
  auto a = std::make_shared<SelftestArgs>();
  auto* cmd = app.add_subcommand("selftest", "Check every mat-vec kernel against the reference (CPU; CUDA with --cuda)");
  cmd->add_flag("--cuda", a->cuda, "Also check the CUDA kernels (skipped, with the reason, when no device is usable)");
  cmd->add_flag("--require-cuda", a->requireCuda, "With --cuda: fail (exit 2) when the CUDA checks cannot run");
  cmd->add_flag("--cuda-only", a->cudaOnly, "Skip the CPU checks (implies --cuda)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] {
    if (a->cudaOnly || a->requireCuda) a->cuda = true;
    const auto cases = k::selftest::standardCases();
    auto progress = progressBar(a->json);
    bool passed = true;
    nlohmann::json j;
    if (!a->cudaOnly) {
      nlohmann::json isas = nlohmann::json::array();
      for (k::cpu::Isa isa : k::cpu::supportedIsas()) isas.push_back(k::cpu::isaName(isa));
      nlohmann::json cpu = runAll(
          cases,
          [](const k::selftest::Case& c) {
            std::vector<k::selftest::Result> all;
            for (k::cpu::Isa isa : k::cpu::supportedIsas()) {
              auto r = k::selftest::runCpu(c, isa);
              all.insert(all.end(), r.begin(), r.end());
            }
            return all;
          },
          progress, "cpu", passed);
      cpu["isas"] = isas;
      cpu["active_isa"] = k::cpu::isaName(k::cpu::activeIsa());
      j["cpu"] = cpu;
    }
    bool cudaSkipped = false;
    if (a->cuda) {
      const k::cuda::Status st = k::cuda::status();
      nlohmann::json cuda = {{"device", st.device}, {"ran", st.available}};
      if (st.available) {
        cuda.update(runAll(cases, [](const k::selftest::Case& c) { return k::selftest::runCuda(c); }, progress, "cuda",
                           passed));
      } else {
        cuda["skipped"] = st.reason;
        cudaSkipped = true;
      }
      j["cuda"] = cuda;
    } else {
      j["cuda"] = {{"ran", false}, {"skipped", "not requested (pass --cuda)"}};
    }
    j["passed"] = passed;
    finishProgress();
    if (a->json) {
      printJson(j);
    } else {
      for (const char* part : {"cpu", "cuda"}) {
        if (!j.contains(part)) continue;
        const auto& p = j[part];
        if (p.contains("skipped")) {
          std::printf("%-5s skipped: %s\n", part, p["skipped"].get<std::string>().c_str());
          continue;
        }
        std::printf("%-5s %d checks over %d cases, %d failed, worst error %.2f x tolerance (%.1f s)\n", part,
                    p["checks"].get<int>(), p["cases"].get<int>(), p["failed"].get<int>(),
                    p["worst_error_over_tolerance"].get<double>(), p["seconds"].get<double>());
        for (const auto& f : p["failures"])
          std::printf("  FAIL %s %s on %s: %s\n", f["case"].get<std::string>().c_str(),
                      f["kernel"].get<std::string>().c_str(), f["backend"].get<std::string>().c_str(),
                      f["message"].get<std::string>().c_str());
      }
      std::printf("%s\n", passed ? "selftest passed" : "selftest FAILED");
    }
    if (!passed) throw Error("selftest: some kernels disagree with the reference (see above)");
    if (cudaSkipped && a->requireCuda)
      throw CLI::RuntimeError("selftest: the CUDA checks were required (--require-cuda) but skipped", 2);
  });
});

}  // namespace
}  // namespace duo::cli
