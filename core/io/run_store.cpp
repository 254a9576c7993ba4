// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/run_store.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <unistd.h>

#include "core/common/error.h"
#include "core/common/process.h"
#include "core/common/atomic_file.h"
#include "core/common/paths.h"

namespace fs = std::filesystem;

namespace duo {

namespace {
std::tm utcNow(int* millis) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  *millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}
// The store's folder, created when missing; throws duo::Error naming it when that fails.
void ensureFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  DUO_CHECK(fs::is_directory(dir), "run store: cannot create folder '", dir, "'", ec ? ": " + ec.message() : std::string());
}
}  // namespace

RunStore::RunStore(std::string dir) : m_dir(std::move(dir)) {}

nlohmann::json RunMarker::toJson() const {
  return {{"schema", "duoscope.run-marker/1"}, {"id", id},         {"created", created}, {"model", model},
          {"method", method},                 {"out", outDir},   {"pid", pid}};
}

RunMarker RunMarker::fromJson(const nlohmann::json& j, const std::string& source) {
  DUO_CHECK(j.is_object(), source, ": a run marker must be a JSON object");
  RunMarker m;
  try {
    m.id = j.at("id").get<std::string>();
    m.created = j.value("created", std::string());
    m.model = j.value("model", std::string());
    m.method = j.value("method", std::string());
    m.outDir = j.value("out", std::string());
    m.pid = j.value("pid", 0L);
  } catch (const std::exception& e) {
    fail(source, ": not a run marker (", e.what(), ")");
  }
  return m;
}

std::string RunStore::beginRun(RunMarker& m) const {
  ensureFolder(m_dir);
  if (m.id.empty()) m.id = newId(m.method);
  if (m.created.empty()) m.created = nowIso8601();
  m.pid = static_cast<long>(getpid());
  writeFileAtomic(markerPathOf(m.id), m.toJson().dump(1) + "\n");
  return m.id;
}

void RunStore::endRun(const std::string& id) const {
  std::error_code ec;
  fs::remove(markerPathOf(id), ec);
}

std::vector<RunMarker> RunStore::interrupted() const {
  std::vector<RunMarker> out;
  std::error_code ec;
  if (!fs::is_directory(m_dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(m_dir, ec)) {
    if (e.path().extension() != ".running") continue;
    RunMarker m;
    try {
      m = RunMarker::fromJson(nlohmann::json::parse(readFile(e.path().string())), e.path().string());
    } catch (const std::exception&) {
      m.id = e.path().stem().string();  // half-written by a killed process: still an interrupted run
    }
    if (processAlive(m.pid)) continue;  // our own pid is a run of this process, not a crash
    if (fs::exists(pathOf(m.id))) {  // killed after its record was saved: the run finished
      fs::remove(e.path(), ec);
      continue;
    }
    out.push_back(m);
  }
  std::sort(out.begin(), out.end(), [](const RunMarker& a, const RunMarker& b) { return a.id < b.id; });
  return out;
}

std::string RunStore::defaultDir() {
  const char* env = std::getenv("DUO_RUNS_DIR");
  if (env && *env) return env;
  return cacheDir() + "/runs";
}

std::string RunStore::newId(const std::string& method) {
  int ms = 0;
  const std::tm tm = utcNow(&ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  char msBuf[8];
  std::snprintf(msBuf, sizeof msBuf, "-%03d-", ms);
  std::string tag;
  for (char c : method) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    tag += (std::isalnum(static_cast<unsigned char>(l)) || l == '-') ? l : '-';
  }
  return std::string(buf) + msBuf + (tag.empty() ? "run" : tag);
}

std::string RunStore::nowIso8601() {
  int ms = 0;
  const std::tm tm = utcNow(&ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string RunStore::save(RunRecord& rec) const {
  ensureFolder(m_dir);
  if (rec.id.empty()) {
    const std::string base = newId(rec.method);
    rec.id = base;
    for (int i = 2; fs::exists(pathOf(rec.id)); ++i) rec.id = base + "-" + std::to_string(i);
  }
  if (rec.created.empty()) rec.created = nowIso8601();
  writeFileAtomic(pathOf(rec.id), rec.toJson().dump(1) + "\n");
  return rec.id;
}

std::vector<std::string> RunStore::ids() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(m_dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(m_dir, ec)) {
    const fs::path p = e.path();
    // <id>.json; temp files of atomic writes end in .tmp-* and are skipped.
    if (e.is_regular_file() && p.extension() == ".json") out.push_back(p.stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RunStore::resolve(const std::string& key) const {
  const auto all = ids();
  DUO_CHECK(!all.empty(), "run store '", m_dir, "' has no runs");
  if (key == "latest") return all.back();
  std::vector<std::string> hits;
  for (const auto& id : all) {
    if (id == key) return id;
    if (id.rfind(key, 0) == 0) hits.push_back(id);
  }
  DUO_CHECK(!hits.empty(), "run '", key, "' not found in '", m_dir, "' (", all.size(), " runs; `duoscope-cli runs list`)");
  if (hits.size() > 1) {
    std::string list;
    for (size_t i = 0; i < hits.size() && i < 5; ++i) list += (i ? ", " : "") + hits[i];
    fail("run '", key, "' is ambiguous in '", m_dir, "': ", hits.size(), " runs match (", list,
         hits.size() > 5 ? ", ..." : "", ")");
  }
  return hits.front();
}

RunRecord RunStore::load(const std::string& key) const { return RunRecord::load(pathOf(resolve(key))); }

std::string RunStore::remove(const std::string& key) const {
  const std::string id = resolve(key);
  std::error_code ec;
  fs::remove(pathOf(id), ec);
  DUO_CHECK(!ec, "cannot remove '", pathOf(id), "': ", ec.message());
  return id;
}

}  // namespace duo
