// The safetensors files of an HF model folder: model.safetensors, or the shards listed by
// model.safetensors.index.json. All files are mapped and their headers validated; the tensors of
// all shards are merged into one name -> location table. Torch-free.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/io/safetensors.h"

namespace duo {

struct HfTensorLocation {
  size_t file = 0;                            // index into HfWeightFiles::files
  const SafetensorsTensor* tensor = nullptr;  // owned by that file's header
};

struct HfWeightFiles {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, HfTensorLocation> tensors;
  int64_t fileBytes() const;  // sum of the mapped files' sizes
};

// Throws duo::Error naming the folder or file: no weights, an index that is not valid, a shard
// that is missing, a tensor the index places in a shard that lacks it, a tensor in two shards.
HfWeightFiles openHfWeights(const std::string& dir);

}  // namespace duo
