// SPDX-License-Identifier: GPL-3.0-or-later
// A whole workspace as one JSON file: the request the window would run now (model, data, method,
// table) and every run (core run records), and where the window keeps its runs. File > Save
// workspace writes it, the window's autosave too. Torch-free and Qt-free.
#pragma once
#include <string>
#include <vector>

#include "core/io/run_record.h"
#include "core/job/prune_job.h"

namespace duo {

// Schema kWorkspaceSchema; files of the older duoscope.workspace/1 (the window's own run
// documents) still load.
inline constexpr const char* kWorkspaceSchema = "duoscope.workspace/2";

struct Workspace {
  PruneRequest request;  // model path, data, method options, sparsity table
  std::vector<RunRecord> runs;
  // Where the window keeps this workspace's runs ("runs_dir"; the window's autosave names its run
  // folder here instead of copying every run). "" when the file does not say.
  std::string runsDir;
  // Settings of a run beside the request: the value format its decode speed is for ("values", and
  // "int8_inputs" with int8) and the extra evaluation corpora ("also_eval"). Absent in older
  // files: f32, false, none.
  std::string values = "f32";
  bool int8Inputs = false;
  std::vector<std::string> alsoEval;
};

// Atomic write; throws duo::Error naming the file on I/O faults.
void saveWorkspace(const std::string& path, const Workspace& ws);
// Throws duo::Error naming the file when it is missing, not a workspace, or malformed.
Workspace loadWorkspace(const std::string& path);

}  // namespace duo
