// SPDX-License-Identifier: GPL-3.0-or-later
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

// A weight stored in compressed-tensors' sparse-bitmask layout (bitmask.h): its four parts.
struct HfBitmaskWeight {
  HfTensorLocation shape, values, mask, rowOffsets;
  std::vector<int64_t> dims;  // the dense shape, read from <prefix>.shape
  std::string dtype;          // the values' dtype ("BF16", ...)
};

// A weight in compressed-tensors' int-quantized layout (int8_layout.h): I8 [out, in] and its
// per-row scale [out, 1] (F32, F16 or BF16).
struct HfInt8Weight {
  HfTensorLocation weight, scale;
};

struct HfWeightFiles {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, HfTensorLocation> tensors;     // every stored tensor (bitmask parts too)
  std::map<std::string, HfBitmaskWeight> bitmask;      // "<prefix>.weight" -> its parts
  std::map<std::string, HfInt8Weight> int8;            // "<prefix>.weight" (I8) -> it and its scale
  int64_t fileBytes() const;  // sum of the mapped files' sizes
  // Whether `name` is one of a bitmask weight's parts (read through `bitmask`, not on its own).
  bool isBitmaskPart(const std::string& name) const;
  // Whether `name` is an int8 weight's scale (read with the weight, not on its own).
  bool isInt8Scale(const std::string& name) const;
};

// Throws duo::Error naming the folder or file: no weights, an index that is not valid, a shard
// that is missing, a tensor the index places in a shard that lacks it, a tensor in two shards,
// a sparse-bitmask weight with a part missing or of the wrong dtype or shape, an I8 weight that is
// not 2-D, has no weight_scale or one of the wrong dtype or shape, has a zero point (asymmetric),
// or sits in a folder whose config.json has no quantization_config with config_groups.
HfWeightFiles openHfWeights(const std::string& dir);

}  // namespace duo
