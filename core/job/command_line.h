// SPDX-License-Identifier: GPL-3.0-or-later
// The duoscope-cli command that runs a job set up in the window: users tune a run on a workstation
// and run it at scale (several ranks, a cluster) from a script. Torch-free.
#pragma once
#include <string>
#include <vector>

#include "core/job/prune_job.h"

namespace duo {

struct CommandLine {
  std::vector<std::string> args;  // argv after the program name: prune ... --config CONFIG
  std::string shell;              // duoscope-cli prune ... (quoted for a POSIX shell)
  std::string nprocShell;         // the same with --nproc N (local ranks on 127.0.0.1)
  std::string torchrunShell;      // torchrun --nproc-per-node N --no-python duoscope-cli prune ...
};

// `req` as `duoscope-cli prune` flags. The sparsity table goes in a file: `configPath`, which the
// caller writes with req's table (SparsityConfig::toJson; writeSparsityFile does it). `nproc` >= 1
// is the rank count of the --nproc and torchrun forms. Every flag the request sets is written, so
// the command does not depend on the CLI's defaults.
CommandLine pruneCommandLine(const PruneRequest& req, const std::string& configPath, int nproc = 2,
                             const std::string& program = "duoscope-cli");

// Writes the request's sparsity for a model of `numLayers` layers (SparsityPlan::resolve: the table,
// or uniform, with the plan's N:M and activation rule) to `path` as duoscope.sparsity/1, atomically.
void writeSparsityFile(const PruneRequest& req, int numLayers, const std::string& path);

// One argument quoted for a POSIX shell (bare when it has only safe characters).
std::string shellQuote(const std::string& arg);

}  // namespace duo
