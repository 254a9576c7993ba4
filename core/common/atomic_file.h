// SPDX-License-Identifier: GPL-3.0-or-later
// Atomic writes: everything DuoScope saves goes to a temporary file in the destination folder and
// is renamed into place, so a full disk, a crash or a cancel never leaves a half-written file.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace duo {

// Writes `bytes` to `path` atomically. Throws duo::Error naming the path and the OS error.
void writeFileAtomic(const std::string& path, const std::string& bytes);

// Streams into a temp file via `writer`, fsyncs, renames to `path`. On any exception (including
// duo::Cancelled thrown by the writer) the temp file is removed and `path` is left as it was.
void writeFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& writer);

// Reads a whole file; throws duo::Error naming the path when it is missing or unreadable.
std::string readFile(const std::string& path);

}  // namespace duo
