// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/fd_write.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/common/error.h"

namespace duo {

void writeAllToFd(int fd, const void* data, size_t n, const std::string& file) {
  const char* c = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(file, ": write failed: ", std::strerror(errno));
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace duo
