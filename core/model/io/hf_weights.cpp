// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/hf_weights.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/json_file.h"
#include "core/model/io/bitmask.h"
#include "core/model/io/int8_layout.h"
#include "core/model/io/tensor_names.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// A shard name from the index must be a plain file name inside the folder.
bool plainFileName(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && s.find('\\') == std::string::npos && s != "." && s != "..";
}

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Groups <prefix>.{shape,compressed,bitmask,row_offsets} into bitmask weights and checks each
// part's dtype and shape against the others (headers and the 16-byte shape tensor only).
void findBitmaskWeights(HfWeightFiles& out, const std::string& dir) {
  const std::string valuesTail = std::string(".") + kBitmaskValues;
  for (const auto& [name, loc] : out.tensors) {
    if (!endsWith(name, valuesTail)) continue;
    const std::string prefix = name.substr(0, name.size() - valuesTail.size());
    const HfTensorLocation& values = loc;  // C++17 lambdas cannot capture a structured binding (clang)
    const auto part = [&](const char* suffix) {
      auto it = out.tensors.find(prefix + "." + suffix);
      DUO_CHECK(it != out.tensors.end(), out.files[values.file]->path(), ": sparse-bitmask weight '", prefix,
                "' has no '", prefix, ".", suffix, "' tensor");
      return it->second;
    };
    HfBitmaskWeight w;
    w.values = loc;
    w.shape = part(kBitmaskShape);
    w.mask = part(kBitmaskMask);
    w.rowOffsets = part(kBitmaskRowOffsets);
    const auto where = [&](const HfTensorLocation& l) { return out.files[l.file]->path() + ": tensor '" + l.tensor->name + "'"; };
    DUO_CHECK(w.shape.tensor->dtype == "I64" && w.shape.tensor->shape == std::vector<int64_t>{2}, where(w.shape),
              ": expected I64 [2], got ", w.shape.tensor->dtype, " ", shapeString(w.shape.tensor->shape));
    const uint8_t* sp = out.files[w.shape.file]->tensorBytes(*w.shape.tensor);
    w.dims.resize(2);
    std::memcpy(w.dims.data(), sp, 16);
    DUO_CHECK(w.dims[0] > 0 && w.dims[1] > 0 && w.dims[0] <= (1ll << 31) && w.dims[1] <= (1ll << 31), where(w.shape),
              ": shape [", w.dims[0], ", ", w.dims[1], "] is not a 2-D weight's");
    w.dtype = w.values.tensor->dtype;
    DUO_CHECK(w.dtype == "F32" || w.dtype == "F16" || w.dtype == "BF16", where(w.values), ": dtype ", w.dtype,
              " is not supported (F32, F16, BF16 are)");
    DUO_CHECK(w.values.tensor->shape.size() == 1 && w.values.tensor->shape[0] <= w.dims[0] * w.dims[1], where(w.values),
              ": expected 1-D values of at most ", w.dims[0] * w.dims[1], ", got ", shapeString(w.values.tensor->shape));
    const std::vector<int64_t> maskShape{w.dims[0], bitmaskRowBytes(w.dims[1])};
    DUO_CHECK(w.mask.tensor->dtype == "U8" && w.mask.tensor->shape == maskShape, where(w.mask), ": expected U8 ",
              shapeString(maskShape), ", got ", w.mask.tensor->dtype, " ", shapeString(w.mask.tensor->shape));
    DUO_CHECK(w.rowOffsets.tensor->dtype == "I64" && w.rowOffsets.tensor->shape == std::vector<int64_t>{w.dims[0]},
              where(w.rowOffsets), ": expected I64 [", w.dims[0], "], got ", w.rowOffsets.tensor->dtype, " ",
              shapeString(w.rowOffsets.tensor->shape));
    const std::string weight = prefix + ".weight";
    DUO_CHECK(out.tensors.count(weight) == 0, dir, ": '", weight, "' is stored both dense and as a sparse bitmask");
    out.bitmask[weight] = w;
  }
}

// Pairs every I8 tensor with its weight_scale (int8_layout.h) and checks both from the headers:
// the weight 2-D and named <prefix>.weight, the scale F32/F16/BF16 [rows, 1], no zero point. An I8
// weight needs config.json to declare the quantisation (its config_groups were validated by
// readHfConfig).
void findInt8Weights(HfWeightFiles& out, const std::string& dir) {
  const std::string weightTail = ".weight";
  std::string firstI8;  // "<file>: tensor '<name>'", for the config check
  for (const auto& [name, loc] : out.tensors) {
    if (loc.tensor->dtype != "I8") continue;
    const HfTensorLocation& weight = loc;  // C++17 lambdas cannot capture a structured binding (clang)
    const std::string where = out.files[weight.file]->path() + ": tensor '" + name + "'";
    DUO_CHECK(endsWith(name, weightTail), where, ": dtype I8 is only supported for a module's '.weight' (compressed-tensors "
              "int-quantized)");
    const std::vector<int64_t>& shape = weight.tensor->shape;
    DUO_CHECK(shape.size() == 2, where, ": an I8 weight must be 2-D [out, in], got ", shapeString(shape));
    const std::string prefix = name.substr(0, name.size() - weightTail.size());
    const std::string scaleName = prefix + "." + kInt8ScaleSuffix;
    auto it = out.tensors.find(scaleName);
    DUO_CHECK(it != out.tensors.end(), where, ": I8 weight has no '", scaleName,
              "' tensor (compressed-tensors int-quantized stores one scale per output row)");
    const SafetensorsTensor& scale = *it->second.tensor;
    const std::vector<int64_t> want{shape[0], 1};
    DUO_CHECK((scale.dtype == "F32" || scale.dtype == "F16" || scale.dtype == "BF16") && scale.shape == want,
              out.files[it->second.file]->path(), ": tensor '", scaleName, "': expected F32, F16 or BF16 ", shapeString(want),
              " (one scale per row of '", name, "'), got ", scale.dtype, " ", shapeString(scale.shape));
    DUO_CHECK(out.tensors.count(prefix + ".weight_zero_point") == 0, where, ": has a '", prefix,
              ".weight_zero_point' (asymmetric int8 is not supported, symmetric is)");
    out.int8[name] = {weight, it->second};
    if (firstI8.empty()) firstI8 = where;
  }
  if (firstI8.empty()) return;
  const fs::path config = fs::path(dir) / "config.json";
  nlohmann::json j;
  if (fs::exists(config)) j = nlohmann::json::parse(readFile(config.string()), nullptr, false);
  const bool declared = j.is_object() && j.contains("quantization_config") && j["quantization_config"].is_object() &&
                        j["quantization_config"].contains("config_groups") &&
                        j["quantization_config"]["config_groups"].is_object() &&
                        !j["quantization_config"]["config_groups"].empty();
  DUO_CHECK(declared, firstI8, " is I8 but ", config.string(), " has no quantization_config with config_groups "
            "(compressed-tensors int-quantized: quant_method, format and the int8 scheme)");
}

}  // namespace

bool HfWeightFiles::isInt8Scale(const std::string& name) const {
  const std::string tail = std::string(".") + kInt8ScaleSuffix;
  if (!endsWith(name, tail)) return false;
  return int8.count(name.substr(0, name.size() - tail.size()) + ".weight") > 0;
}

bool HfWeightFiles::isBitmaskPart(const std::string& name) const {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string tail = name.substr(dot + 1);
  if (tail != kBitmaskShape && tail != kBitmaskValues && tail != kBitmaskMask && tail != kBitmaskRowOffsets) return false;
  return bitmask.count(name.substr(0, dot) + ".weight") > 0;
}

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
    findBitmaskWeights(out, dir);
    findInt8Weights(out, dir);
    return out;
  }

  const std::string indexPath = index.string();
  nlohmann::json j = readJsonFile(indexPath);
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
  findBitmaskWeights(out, dir);
  findInt8Weights(out, dir);
  return out;
}

}  // namespace duo
