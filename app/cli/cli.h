// SPDX-License-Identifier: GPL-3.0-or-later
// Shared plumbing for duoscope-cli verbs: registration, JSON output, the stderr progress bar and
// Ctrl-C cancellation.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/common/progress.h"

namespace duo {
struct ModelInfo;
struct SpeedCheck;
}

namespace duo::cli {

// Each verb file defines one static Registrar; main() calls every registered adder.
using AddVerbFn = std::function<void(CLI::App& app)>;
struct Registrar {
  Registrar(const char* name, AddVerbFn add);
};
void addAllVerbs(CLI::App& app);
// The `bench` verb, created on first use; each benchmark adds its own subcommand to it.
CLI::App& benchVerb(CLI::App& app);

// The JSON object `info --json` prints for a model (also embedded by other verbs).
nlohmann::json modelInfoJson(const ModelInfo& m);

// Timing benchmarks with more than one thread: a note on stderr when OMP_WAIT_POLICY=PASSIVE, which
// makes every parallel region of a decode step wait for a thread wake-up (on the tiny model the
// dense step ran 3-7x slower and varied 2x between runs; docs/results.md).
void notePassiveWait(int threads);

// Prints a measured decode speedup with its spread and thread count, and each reason not to trust
// it ("measured decode speedup 1.62x (1.58-1.66 over 7 pairs, 2 threads)" + "  untrusted: ...").
void printSpeedCheck(const SpeedCheck& check);

// Prints JSON to stdout (2-space indent) followed by a newline.
void printJson(const nlohmann::json& j);

// A progress bar on stderr (only when stderr is a terminal or --progress is forced); returns a
// ProgressFn that also returns false once SIGINT was received (first Ctrl-C cancels cleanly).
ProgressFn progressBar(bool quiet = false);
// Ends the current bar line, if one was drawn.
void finishProgress();
// A label the bar shows after the stage, e.g. "2 ranks" in a data-parallel job ("" = none).
void setProgressLabel(const std::string& label);

}  // namespace duo::cli
