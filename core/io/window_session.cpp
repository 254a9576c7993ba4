// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/window_session.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/process.h"
#include "core/io/run_store.h"

namespace duo {

namespace fs = std::filesystem;

namespace {
constexpr const char* kLockSchema = "duoscope.session/1";
std::atomic<int> g_sessions{0};  // several windows in one process (tests) get their own files

long long modifiedSeconds(const std::string& path) {
  std::error_code ec;
  const auto t = fs::last_write_time(path, ec);
  if (ec) return 0;
  const auto sys = std::chrono::time_point_cast<std::chrono::seconds>(
      t - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
  return sys.time_since_epoch().count();
}
}  // namespace

WindowSession::WindowSession(std::string dir) : m_dir(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(m_dir, ec);
  DUO_CHECK(fs::is_directory(m_dir), m_dir, ": cannot create the workspace folder (", ec.message(), ")");
  const std::string stem = std::to_string(::getpid()) + "-" + std::to_string(g_sessions++);
  m_lock = m_dir + "/session-" + stem + ".lock";
  m_autosave = m_dir + "/autosave-" + stem + ".json";
  const nlohmann::json j = {{"schema", kLockSchema},
                            {"pid", static_cast<long>(::getpid())},
                            {"started", RunStore::nowIso8601()},
                            {"autosave", fs::path(m_autosave).filename().string()}};
  writeFileAtomic(m_lock, j.dump(1) + "\n");
  m_open = true;
}

WindowSession::~WindowSession() {
  try {
    close();
  } catch (...) {
  }
}

void WindowSession::close() {
  if (!m_open) return;
  m_open = false;
  std::error_code ec;
  fs::remove(m_autosave, ec);
  fs::remove(m_lock, ec);
}

std::vector<WindowSession::Left> WindowSession::leftBehind() const {
  std::vector<Left> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(m_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("session-", 0) != 0 || e.path().extension() != ".lock") continue;
    if (e.path().string() == m_lock) continue;
    Left s;
    s.lockPath = e.path().string();
    std::string autosaveName;
    try {
      const nlohmann::json j = nlohmann::json::parse(readFile(s.lockPath));
      if (j.is_object()) {
        s.pid = j.value("pid", 0L);
        s.started = j.value("started", "");
        autosaveName = j.value("autosave", "");
      }
    } catch (const std::exception&) {
      // Half-written by a killed process: the pid is in the name (session-<pid>-<n>.lock).
    }
    if (s.pid <= 0) s.pid = std::strtol(name.c_str() + 8, nullptr, 10);
    if (autosaveName.empty() || autosaveName.find('/') != std::string::npos)
      autosaveName = "autosave-" + name.substr(8, name.size() - 8 - 5) + ".json";
    if (processAlive(s.pid)) continue;
    const std::string autosave = m_dir + "/" + autosaveName;
    if (fs::is_regular_file(autosave, ec)) {
      s.autosavePath = autosave;
      s.autosavedAt = modifiedSeconds(autosave);
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Left& a, const Left& b) {
    if (a.autosavePath.empty() != b.autosavePath.empty()) return !a.autosavePath.empty();
    return a.autosavedAt > b.autosavedAt;
  });
  return out;
}

void WindowSession::forget(const Left& s) {
  std::error_code ec;
  if (!s.autosavePath.empty()) fs::remove(s.autosavePath, ec);
  fs::remove(s.lockPath, ec);
}

}  // namespace duo
