// SPDX-License-Identifier: GPL-3.0-or-later
#include "kernels/base/error.h"

namespace duo::detail {

void assertFailed(const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "internal error: assertion '" << expr << "' failed at " << file << ":" << line;
  throw Error(os.str());
}

}  // namespace duo::detail
