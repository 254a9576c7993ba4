// SPDX-License-Identifier: GPL-3.0-or-later
// The run store: one `<id>.json` run record per run in a folder (default
// duo::cacheDir()/runs, or $DUO_RUNS_DIR). Ids start with the UTC time to the millisecond, so
// sorting ids sorts runs by time. Every write is atomic. Torch-free: the CLI's `runs` verb and
// the window's runs panel share it.
#pragma once
#include <string>
#include <vector>

#include "core/io/run_record.h"

namespace duo {

// A run in progress, as <dir>/<id>.running says while it runs: written when the run starts and
// removed when it ends in any way the process sees (finished, cancelled, failed). A marker whose
// process is gone (SIGKILL, a crash, power loss) is an interrupted run.
struct RunMarker {
  std::string id, created;  // as the record will have them
  std::string model, method, outDir;
  long pid = 0;
  nlohmann::json toJson() const;
  static RunMarker fromJson(const nlohmann::json& j, const std::string& source);
};

class RunStore {
 public:
  explicit RunStore(std::string dir = defaultDir());
  // $DUO_RUNS_DIR when set and not empty, else cacheDir() + "/runs".
  static std::string defaultDir();
  const std::string& dir() const { return m_dir; }

  // Saves `rec` as <dir>/<id>.json (folder created when missing). When rec.id is empty, assigns
  // a new id (newId, unique in the folder) and rec.created; returns the id. Throws duo::Error
  // naming the file on I/O faults; the previous file, if any, stays intact then.
  std::string save(RunRecord& rec) const;
  // Every id in the folder, oldest first (files that are not <id>.json are ignored).
  std::vector<std::string> ids() const;
  // An exact id, a unique prefix of one, or "latest". Throws duo::Error listing the candidates
  // when ambiguous, or naming the folder when nothing matches.
  std::string resolve(const std::string& idOrPrefix) const;
  RunRecord load(const std::string& idOrPrefix) const;
  // Removes <dir>/<id>.json (exact id or unique prefix); returns the id removed.
  std::string remove(const std::string& idOrPrefix) const;
  std::string pathOf(const std::string& id) const { return m_dir + "/" + id + ".json"; }
  std::string markerPathOf(const std::string& id) const { return m_dir + "/" + id + ".running"; }

  // Writes <dir>/<id>.running for `m` (id and created assigned when empty; pid = this process);
  // returns the id. endRun removes it (no error when it is gone).
  std::string beginRun(RunMarker& m) const;
  void endRun(const std::string& id) const;
  // Markers whose process no longer runs, oldest first (unreadable markers count, named by file).
  // A marker beside its own finished record (the process died after saving it) is removed instead.
  std::vector<RunMarker> interrupted() const;
  // Forgets an interrupted run (removes its marker).
  void forgetInterrupted(const std::string& id) const { endRun(id); }

  // "20261129-093512-042-<method>" for the current UTC time (method sanitised to [a-z0-9-]).
  static std::string newId(const std::string& method);
  // "2026-11-29T09:35:12Z" for now.
  static std::string nowIso8601();

 private:
  std::string m_dir;
};

}  // namespace duo
