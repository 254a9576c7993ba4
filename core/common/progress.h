// SPDX-License-Identifier: GPL-3.0-or-later
// Progress reporting for every long call. The callback returns false to cancel; the callee then
// throws duo::Cancelled at the next safe point, leaving its inputs untouched.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace duo {

struct Progress {
  std::string stage;   // e.g. "calibrate", "load", "eval"
  std::string detail;  // e.g. "layer 3 q_proj"
  int64_t done = 0;
  int64_t total = 0;   // 0 = unknown
};

using ProgressFn = std::function<bool(const Progress&)>;

// Calls fn (if set) and throws Cancelled when it returns false.
void reportProgress(const ProgressFn& fn, const Progress& p);

}  // namespace duo
