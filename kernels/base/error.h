// SPDX-License-Identifier: GPL-3.0-or-later
// The one exception type of every layer, and the check macros that throw it. It lives at the
// bottom (the kernels' level) so that the kernels and everything above throw the same duo::Error;
// core/common/error.h adds cancel and context on top. Standard library only.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace duo {

// Who, what, expected, actual: "layer 7 q_proj: expected [576, 576], got [576, 192]".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
inline void streamAll(std::ostringstream&) {}
template <typename T, typename... Rest>
void streamAll(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  streamAll(os, rest...);
}
[[noreturn]] void assertFailed(const char* expr, const char* file, int line);
}  // namespace detail

// Builds a message from pieces: fail("tensor '", name, "': expected ", a, ", got ", b).
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  detail::streamAll(os, args...);
  throw Error(os.str());
}

}  // namespace duo

// Input validation: throws duo::Error with the message pieces when cond is false.
#define DUO_CHECK(cond, ...)            \
  do {                                  \
    if (!(cond)) ::duo::fail(__VA_ARGS__); \
  } while (0)

// Invariants of our own code: always on, also in release builds.
#define DUO_ASSERT(cond)                                               \
  do {                                                                 \
    if (!(cond)) ::duo::detail::assertFailed(#cond, __FILE__, __LINE__); \
  } while (0)
