#include "core/io/model_hash.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/common/error.h"
#include "core/common/sha256.h"

namespace fs = std::filesystem;

namespace duo {

std::string modelContentHash(const std::string& path) {
  DUO_CHECK(fs::exists(path), "model hash: '", path, "' does not exist");
  if (!fs::is_directory(path)) return sha256File(path);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && (n == "config.json" || e.path().extension() == ".safetensors")) names.push_back(n);
  }
  DUO_CHECK(!names.empty(), "model hash: '", path, "' has no config.json or *.safetensors");
  std::sort(names.begin(), names.end());
  std::string lines;
  for (const auto& n : names) lines += n + " " + sha256File(path + "/" + n) + "\n";
  return sha256Hex(lines);
}

}  // namespace duo
