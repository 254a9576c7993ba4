// SPDX-License-Identifier: GPL-3.0-or-later
// Processes other than this one, as files left behind by them see them: is the process that wrote
// a marker, a lock or a partial folder still running?
#pragma once

namespace duo {

// True when a process with `pid` exists (kill(pid, 0) succeeds or is refused for permission), and
// for this process's own pid; false for pid <= 0 and for processes that have ended.
bool processAlive(long pid);

}  // namespace duo
