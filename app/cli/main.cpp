// duoscope-cli: the headless twin of the DuoScope window. Thin: parses flags, calls core.
#include <iostream>

#include "app/cli/cli.h"
#include "core/common/device.h"
#include "core/common/error.h"
#include "core/common/version.h"

int main(int argc, char** argv) {
  duo::tuneProcess(argc, argv);
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
  } catch (const duo::Cancelled&) {
    duo::cli::finishProgress();
    std::cerr << "duoscope-cli: cancelled; nothing was written" << std::endl;
    return 130;
  } catch (const std::exception& e) {
    duo::cli::finishProgress();
    std::cerr << "duoscope-cli: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
