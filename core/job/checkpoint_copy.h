// SPDX-License-Identifier: GPL-3.0-or-later
// A run's pruned checkpoint written again somewhere else, in the format asked for, without
// calibrating again: Export > Pruned checkpoint in the window (the run's kept weights) and
// `duoscope-cli export --run ID --checkpoint DIR`. Every tensor goes through the checkpoint writer
// (assembled beside the destination, renamed into place when complete, nothing left behind on
// cancel or error); config.json keeps the activation rule and thresholds; duoscope.json is copied.
// Torch-free header.
#pragma once
#include <string>

#include "core/common/progress.h"

namespace duo {

struct CheckpointCopy {
  std::string from, to;
  std::string format;  // "dense" | "sparse-bitmask"
  std::string dtype;   // "F32" | "F16" | "BF16": the source's, kept
  int64_t bytes = 0;   // tensor bytes written
};

// `format`: "dense" or "sparse-bitmask" (prune --out-format). Throws duo::Error naming `from` when
// it is not a readable checkpoint, and `to` when it cannot be written; duo::Cancelled on cancel.
CheckpointCopy copyCheckpoint(const std::string& from, const std::string& to, const std::string& format,
                              const ProgressFn& progress = {});

}  // namespace duo
