#include "core/model/io/hf_weights.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// A shard name from the index must be a plain file name inside the folder.
bool plainFileName(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && s.find('\\') == std::string::npos && s != "." && s != "..";
}

}  // namespace

int64_t HfWeightFiles::fileBytes() const {
  int64_t n = 0;
  for (const auto& f : files) n += static_cast<int64_t>(f->fileBytes());
  return n;
}

HfWeightFiles openHfWeights(const std::string& dir) {
  HfWeightFiles out;
  const fs::path index = fs::path(dir) / kIndexFile;
  const fs::path single = fs::path(dir) / kSingleFile;
  if (!fs::exists(index)) {
    if (!fs::exists(single)) {
      const bool bin = fs::exists(fs::path(dir) / "pytorch_model.bin");
      fail(dir, ": no ", kSingleFile, " or ", kIndexFile,
           bin ? " (pytorch_model.bin checkpoints are not supported: convert to safetensors)" : "");
    }
    out.files.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (const SafetensorsTensor& t : out.files[0]->header().tensors) out.tensors[t.name] = {0, &t};
    return out;
  }

  const std::string indexPath = index.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(readFile(indexPath));
  } catch (const nlohmann::json::exception& e) {
    fail(indexPath, ": not valid JSON: ", e.what());
  }
  DUO_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), indexPath,
            ": missing object 'weight_map'");
  std::map<std::string, size_t> fileIndex;  // shard name -> index in out.files
  std::map<std::string, std::string> placed;  // tensor -> shard name, from the index
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    DUO_CHECK(it.value().is_string(), indexPath, ": weight_map['", it.key(), "'] is not a file name");
    const std::string shard = it.value().get<std::string>();
    DUO_CHECK(plainFileName(shard), indexPath, ": weight_map['", it.key(), "'] = '", shard,
              "' is not a file name inside the folder");
    placed[it.key()] = shard;
    if (fileIndex.count(shard) == 0) {
      const fs::path p = fs::path(dir) / shard;
      DUO_CHECK(fs::exists(p), indexPath, ": shard '", shard, "' (holding '", it.key(), "') is missing");
      fileIndex[shard] = out.files.size();
      out.files.push_back(std::make_unique<SafetensorsFile>(p.string()));
    }
  }
  DUO_CHECK(!placed.empty(), indexPath, ": weight_map is empty");
  for (const auto& [shard, k] : fileIndex) {
    for (const SafetensorsTensor& t : out.files[k]->header().tensors) {
      auto prev = out.tensors.find(t.name);
      DUO_CHECK(prev == out.tensors.end(), dir, ": tensor '", t.name, "' is in both ",
                out.files[prev == out.tensors.end() ? k : prev->second.file]->path(), " and ", out.files[k]->path());
      out.tensors[t.name] = {k, &t};
    }
  }
  for (const auto& [name, shard] : placed) {
    auto it = out.tensors.find(name);
    DUO_CHECK(it != out.tensors.end() && it->second.file == fileIndex[shard], indexPath, ": tensor '", name,
              "' is listed in shard '", shard, "' but that file does not hold it");
  }
  return out;
}

}  // namespace duo
