// SPDX-License-Identifier: GPL-3.0-or-later
// Data-parallel verbs (prune, eval): `--nproc N` starts N local workers on the loopback (like
// `torchrun --nproc-per-node N --no-python duoscope-cli ...`), a process started by torchrun (or by
// --nproc) reads its rank from the environment. Rank 0 alone prints results and progress.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "core/dist/dist_settings.h"

namespace duo::cli {

struct DistArgs {
  int nproc = 1;
  std::string backend = "auto";
  double timeoutSeconds = 1800;
};
void addDistOptions(CLI::App* cmd, DistArgs& d);

// Thrown to leave main() with an exit code (the launcher's workers' status).
struct ExitCode {
  int code;
};

// main() keeps its arguments for the launcher.
void keepArguments(int argc, char** argv);

// With --nproc > 1 in a process that no launcher started: starts the workers, waits for them and
// throws ExitCode (0 when every rank succeeded). Otherwise this process's settings: one process,
// or the rank the environment gives (torchrun's variables) with --dist-backend/--dist-timeout.
DistSettings resolveDist(const DistArgs& d);

// The rank prefix of error messages ("rank 1: ") in a worker of a job of several ranks, else "".
std::string rankPrefix();

}  // namespace duo::cli
