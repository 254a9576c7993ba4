// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/process.h"

#include <cerrno>
#include <csignal>
#include <unistd.h>

namespace duo {

bool processAlive(long pid) {
  if (pid <= 0) return false;
  if (pid == static_cast<long>(::getpid())) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace duo
