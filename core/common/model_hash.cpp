// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/model_hash.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/common/sha256.h"

namespace fs = std::filesystem;

namespace duo {
namespace {

constexpr const char* kCacheSchema = "duoscope.file-hashes/1";
constexpr size_t kMaxEntries = 4096;  // oldest dropped beyond this

std::mutex g_cacheMutex;  // one process's threads; processes race harmlessly (atomic replace)

std::string identityOf(const std::string& path) {
  struct stat st {};
  DUO_CHECK(::stat(path.c_str(), &st) == 0, "model hash: cannot stat '", path, "'");
  const long long mtimeNs = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return fs::absolute(path).lexically_normal().string() + "|" + std::to_string(st.st_dev) + "|" +
         std::to_string(st.st_ino) + "|" + std::to_string(st.st_size) + "|" + std::to_string(mtimeNs);
}

nlohmann::json readCache(const std::string& file) {
  try {
    if (!fs::exists(file)) return nlohmann::json::object();
    nlohmann::json j = nlohmann::json::parse(readFile(file));
    if (j.is_object() && j.contains("schema") && j["schema"] == kCacheSchema && j.contains("files") &&
        j["files"].is_object())
      return j["files"];
  } catch (const std::exception&) {  // unreadable: start afresh
  }
  return nlohmann::json::object();
}

}  // namespace

std::string sha256FileCached(const std::string& path, bool* hit) {
  const std::string id = identityOf(path);
  const std::string file = cacheDir() + "/file-hashes.json";
  {
    std::lock_guard<std::mutex> lock(g_cacheMutex);
    const nlohmann::json files = readCache(file);
    if (files.contains(id) && files[id].is_object() && files[id].contains("sha256") && files[id]["sha256"].is_string()) {
      if (hit) *hit = true;
      return files[id]["sha256"].get<std::string>();
    }
  }
  if (hit) *hit = false;
  const std::string sum = sha256File(path);
  if (identityOf(path) != id) return sum;  // changed while it was read: do not remember it
  std::lock_guard<std::mutex> lock(g_cacheMutex);
  try {
    nlohmann::json files = readCache(file);
    static long long sequence = 0;
    files[id] = {{"sha256", sum}, {"seen", static_cast<long long>(::time(nullptr)) * 1000 + (sequence++ % 1000)}};
    if (files.size() > kMaxEntries) {  // drop the oldest
      std::vector<std::pair<long long, std::string>> order;
      for (auto it = files.begin(); it != files.end(); ++it)
        order.emplace_back(it.value().is_object() ? it.value().value("seen", 0LL) : 0LL, it.key());
      std::sort(order.begin(), order.end());
      for (size_t i = 0; i + kMaxEntries < order.size(); ++i) files.erase(order[i].second);
    }
    fs::create_directories(cacheDir());
    writeFileAtomic(file, nlohmann::json{{"schema", kCacheSchema}, {"files", files}}.dump(1) + "\n");
  } catch (const std::exception&) {  // a cache that cannot be written only costs the next run a read
  }
  return sum;
}

std::string modelContentHash(const std::string& path) {
  DUO_CHECK(fs::exists(path), "model hash: '", path, "' does not exist");
  if (!fs::is_directory(path)) return sha256FileCached(path);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && (n == "config.json" || e.path().extension() == ".safetensors")) names.push_back(n);
  }
  DUO_CHECK(!names.empty(), "model hash: '", path, "' has no config.json or *.safetensors");
  std::sort(names.begin(), names.end());
  std::string lines;
  for (const auto& n : names) lines += n + " " + sha256FileCached(path + "/" + n) + "\n";
  return sha256Hex(lines);
}

}  // namespace duo
