// SPDX-License-Identifier: GPL-3.0-or-later
// Option groups that several duoscope-cli verbs share, so that a flag reads, defaults and checks
// the same in every verb that takes it.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace duo {
struct MemoryPlan;
}

namespace duo::cli {

// --model/-m: a model folder, a file inside one, a .gguf file or an alias.
CLI::Option* addModelOption(CLI::App* cmd, std::string& model);

// --device: auto (CUDA when LibTorch has it) | cpu | cuda.
CLI::Option* addDeviceOption(CLI::App* cmd, std::string& device);

// --timing: a timing profile from `bench calibrate`; `effect` says what the verb does with it.
CLI::Option* addTimingOption(CLI::App* cmd, std::string& path, const std::string& effect);

// The calibration windows: --calib (a corpus source), --nsamples and --seqlen (0 = the prune job's
// default for the model and device, defaultCalibration), --seed.
void addCalibrationOptions(CLI::App* cmd, std::string& source, int& nsamples, int& seqlen, uint64_t& seed);

// The sensitivity table's grid: --grid-w and --grid-a, comma separated, ascending.
void addGridOptions(CLI::App* cmd, std::vector<double>& gridW, std::vector<double>& gridA);

// An option whose default the help shows and whose value must lie in [lo, hi].
template <typename T, typename Bound>
CLI::Option* addRangeOption(CLI::App* cmd, const std::string& name, T& value, const std::string& help, Bound lo,
                            Bound hi) {
  return cmd->add_option(name, value, help)->capture_default_str()->check(CLI::Range(lo, hi));
}

// --plan (print the memory plan and stop) and --no-memory-check.
void addMemoryPlanOptions(CLI::App* cmd, bool& plan, bool& noMemoryCheck);
// The plan as JSON (--json) or as its text, on stdout.
void printMemoryPlan(const MemoryPlan& plan, bool json);

}  // namespace duo::cli
