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

namespace detail {
void assertFailed(const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "internal error: assertion '" << expr << "' failed at " << file << ":" << line;
  throw Error(os.str());
}
}  // namespace detail

}  // namespace duo
