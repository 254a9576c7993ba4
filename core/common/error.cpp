// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/error.h"

#include <exception>

namespace duo {

void rethrowWithContext(const std::string& context) {
  try {
    throw;
  } catch (const Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace duo
