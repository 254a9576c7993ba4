// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/options.h"

#include <iostream>

#include "app/cli/cli.h"
#include "core/data/corpus.h"
#include "core/job/memory_plan.h"

namespace duo::cli {

CLI::Option* addModelOption(CLI::App* cmd, std::string& model) {
  return cmd->add_option("--model,-m", model, "Model folder/file or alias (tiny, smollm2)")->capture_default_str();
}

CLI::Option* addDeviceOption(CLI::App* cmd, std::string& device) {
  return cmd->add_option("--device", device, "auto | cpu | cuda");
}

CLI::Option* addTimingOption(CLI::App* cmd, std::string& path, const std::string& effect) {
  return cmd->add_option("--timing", path, "A timing profile from `bench calibrate`: " + effect);
}

void addCalibrationOptions(CLI::App* cmd, std::string& source, int& nsamples, int& seqlen, uint64_t& seed) {
  cmd->add_option("--calib", source, duo::kModelCorpusSourcesHelp)->capture_default_str();
  cmd->add_option("--nsamples", nsamples, "Calibration windows (0 = the prune default for the model)")
      ->capture_default_str();
  cmd->add_option("--seqlen", seqlen, "Calibration window length (0 = the prune default)")->capture_default_str();
  cmd->add_option("--seed", seed, "Seed for the calibration windows")->capture_default_str();
}

void addGridOptions(CLI::App* cmd, std::vector<double>& gridW, std::vector<double>& gridA) {
  cmd->add_option("--grid-w", gridW, "Weight sparsities of the sensitivity grid, comma separated, ascending")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--grid-a", gridA, "Activation sparsities (topk) of the grid, comma separated, ascending")
      ->delimiter(',')
      ->capture_default_str();
}

void addMemoryPlanOptions(CLI::App* cmd, bool& plan, bool& noMemoryCheck) {
  cmd->add_flag("--plan", plan, "Print the memory plan (each term, the total, what is available) and stop");
  cmd->add_flag("--no-memory-check", noMemoryCheck, "Run even when the memory plan says it does not fit");
}

void printMemoryPlan(const MemoryPlan& plan, bool json) {
  if (json) printJson(plan.toJson());
  else std::cout << plan.text();
}

}  // namespace duo::cli
