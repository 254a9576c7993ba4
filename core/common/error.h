// One exception type for the whole core: who, what, expected, actual. Each stage may add context;
// only the job controller and the CLI's main catch.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace duo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a progress callback returned false. Carries no fault: the user asked to stop.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

// Re-throws `e` with "context: " in front of its message, keeping the Cancelled type.
[[noreturn]] void rethrowWithContext(const std::string& context);

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
