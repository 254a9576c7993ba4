// SPDX-License-Identifier: GPL-3.0-or-later
// The window's guard against losing work to a crash. While a window runs, <dir>/session-<pid>-<n>.lock
// names its process, and <dir>/autosave-<pid>-<n>.json holds its workspace as last autosaved (the
// window writes it, atomically, at autosavePath()). An orderly end removes both. A lock whose
// process is gone belongs to a session that ended without closing (SIGKILL, a crash, power loss):
// the next window offers that session's autosave and then forgets it. Torch-free and Qt-free.
#pragma once
#include <string>
#include <vector>

namespace duo {

class WindowSession {
 public:
  // A session that ended without closing.
  struct Left {
    long pid = 0;
    std::string lockPath;
    std::string autosavePath;  // "" when it never autosaved
    std::string started;       // ISO 8601 UTC, from the lock ("" when the lock was unreadable)
    long long autosavedAt = 0; // the autosave's modification time, seconds since the epoch
  };

  // Writes this session's lock in `dir` (created when missing). Throws duo::Error naming the file
  // when the folder cannot be written.
  explicit WindowSession(std::string dir);
  ~WindowSession();  // close()
  WindowSession(const WindowSession&) = delete;
  WindowSession& operator=(const WindowSession&) = delete;

  const std::string& dir() const { return m_dir; }
  const std::string& lockPath() const { return m_lock; }
  const std::string& autosavePath() const { return m_autosave; }

  // Sessions in dir() whose process is gone, the most recently autosaved first (those without an
  // autosave last). Unreadable locks count, named by their file.
  std::vector<Left> leftBehind() const;
  // Removes what `s` left behind (lock and autosave), once restored or declined.
  static void forget(const Left& s);
  // The orderly end: removes this session's lock and autosave. Idempotent.
  void close();

 private:
  std::string m_dir, m_lock, m_autosave;
  bool m_open = false;
};

}  // namespace duo
