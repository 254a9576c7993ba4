// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli: the headless twin of the DuoScope window. Thin: parses flags, calls core.
#include <csignal>
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/dist.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/common/version.h"

int main(int argc, char** argv) {
  duo::tuneProcess(argc, argv);
  duo::cli::keepArguments(argc, argv);
  // A file-size limit (ulimit -f) would kill the process mid-write with SIGXFSZ and leave the
  // partial checkpoint behind; ignored, the write fails with EFBIG and is reported and cleaned up.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"DuoScope: dual-sparsity (weights + activations) pruning workbench for LLaMA-family models",
               "duoscope-cli"};
  app.set_version_flag("--version", std::string("duoscope-cli ") + duo::kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  duo::cli::addAllVerbs(app);
  duo::initComputeThreads();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const duo::cli::ExitCode& e) {
    return e.code;
  } catch (const duo::Cancelled&) {
    duo::cli::finishProgress();
    std::cerr << "duoscope-cli: " << duo::cli::rankPrefix() << "cancelled; nothing was written" << std::endl;
    return 130;
  } catch (const std::exception& e) {
    duo::cli::finishProgress();
    const std::string msg = e.what();
    const std::string prefix = duo::cli::rankPrefix();
    // Collective failures already name the rank.
    std::cerr << "duoscope-cli: " << (msg.rfind(prefix, 0) == 0 ? "" : prefix) << "error: " << msg << std::endl;
    return 1;
  }
  return 0;
}
