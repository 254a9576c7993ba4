// SPDX-License-Identifier: GPL-3.0-or-later
// Core's errors: the one duo::Error type and its check macros (kernels/base/error.h, shared with
// the kernels), plus what only core needs: cancel and context. Each stage may add context; only
// the job controller and the CLI's main catch.
#pragma once
#include <string>

#include "kernels/base/error.h"

namespace duo {

// Thrown when a progress callback returned false. Carries no fault: the user asked to stop.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

// Re-throws `e` with "context: " in front of its message, keeping the Cancelled type.
[[noreturn]] void rethrowWithContext(const std::string& context);

}  // namespace duo
