// SPDX-License-Identifier: GPL-3.0-or-later
// Seconds on the steady clock, for the timings jobs report (torch-free).
#pragma once

#include <chrono>

namespace duo {

// Seconds elapsed since t0.
inline double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace duo
