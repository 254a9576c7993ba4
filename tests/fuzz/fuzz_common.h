// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by the fuzz targets: with DUO_FUZZ_VERBOSE set, rejected inputs print why (handy when
// running a target on single files to see whether a seed is accepted).
#pragma once
#include <cstdio>
#include <cstdlib>

#include "core/common/error.h"

namespace duo::fuzz {
inline void note(const duo::Error& e) {
  static const bool verbose = std::getenv("DUO_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "rejected: %s\n", e.what());
}
}  // namespace duo::fuzz
