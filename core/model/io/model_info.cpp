// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/model_info.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/json_file.h"
#include "core/common/paths.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/hf_weights.h"
#include "core/model/io/tensor_names.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

// "bpe-bytelevel" for a GPT-2/LLaMA-3 style tokenizer.json, "spm" for SentencePiece-style ones
// (LLaMA-2's tokenizer.json, or a bare tokenizer.model), "" when the folder has none.
std::string hfTokenizerKind(const std::string& dir) {
  const fs::path json = fs::path(dir) / "tokenizer.json";
  if (!fs::exists(json)) return fs::exists(fs::path(dir) / "tokenizer.model") ? "spm" : "";
  nlohmann::json j = readJsonFile(json.string());
  DUO_CHECK(j.is_object(), json.string(), ": valid JSON but not a tokenizer: the top level is ", j.type_name(),
            ", expected an object with \"model\"");
  const std::string parts = j.value("pre_tokenizer", nlohmann::json()).dump() + j.value("decoder", nlohmann::json()).dump();
  return parts.find("\"ByteLevel\"") != std::string::npos ? "bpe-bytelevel" : "spm";
}

// The dtype holding the most elements.
std::string dominant(const std::map<std::string, int64_t>& elementsByDtype) {
  std::string best;
  int64_t most = -1;
  for (const auto& [dtype, n] : elementsByDtype)
    if (n > most) most = n, best = dtype;
  return best;
}

ModelInfo inspectHf(const std::string& dir) {
  ModelInfo info;
  info.path = dir;
  info.format = "hf-safetensors";
  info.config = readHfConfig(dir);
  const HfWeightFiles files = openHfWeights(dir);
  std::map<std::string, int64_t> elements;
  for (const auto& [name, loc] : files.tensors) {
    // Bitmask parts are counted below as their weight; an int8 weight's scale is not a parameter.
    if (isIgnorableTensorName(NameFormat::Hf, name) || files.isBitmaskPart(name) || files.isInt8Scale(name)) continue;
    const SafetensorsTensor& t = *loc.tensor;
    info.parameters += t.elements();
    elements[t.dtype] += t.elements();
    ++info.dtypeCounts[t.dtype];
    ++info.tensorCount;
  }
  for (const auto& [name, w] : files.bitmask) {  // sparse-bitmask weights count at their dense size
    const int64_t n = w.dims[0] * w.dims[1];
    info.parameters += n;
    elements[w.dtype] += n;
    ++info.dtypeCounts[w.dtype];
    ++info.tensorCount;
  }
  info.fileBytes = files.fileBytes();
  info.dtype = dominant(elements);
  info.tokenizer = hfTokenizerKind(dir);
  info.name = fs::path(dir).lexically_normal().filename().string();
  if (info.name.empty()) info.name = fs::path(dir).lexically_normal().parent_path().filename().string();
  return info;
}

ModelInfo inspectGguf(const std::string& path) {
  const GgufFile f(path);
  ModelInfo info;
  info.path = path;
  info.format = "gguf";
  info.config = ggufModelConfig(f.header(), path);
  std::map<std::string, int64_t> elements;
  for (const GgufTensorInfo& t : f.header().tensors) {
    if (isIgnorableTensorName(NameFormat::Gguf, t.name)) continue;  // rope_freqs.weight: config, not weights
    const std::string type = ggmlTypeName(t.type);
    info.parameters += t.elements;
    elements[type] += t.elements;
    ++info.dtypeCounts[type];
    ++info.tensorCount;
  }
  info.fileBytes = static_cast<int64_t>(f.fileBytes());
  info.dtype = dominant(elements);
  const GgufMeta m = f.meta();
  info.tokenizer = m.string("tokenizer.ggml.model", "");
  info.name = m.string("general.name", fs::path(path).stem().string());
  return info;
}

}  // namespace

std::string resolveModelLocation(const std::string& path) {
  std::string p = resolveModelPath(path);
  DUO_CHECK(fs::exists(p), p, ": no such file or folder");
  const fs::path fp(p);
  if (fs::is_regular_file(fp) && (fp.filename() == "config.json" || fp.extension() == ".safetensors" ||
                                  fp.filename() == "model.safetensors.index.json")) {
    const fs::path dir = fp.parent_path().empty() ? fs::path(".") : fp.parent_path();
    if (fs::exists(dir / "config.json")) p = dir.string();
  }
  return p;
}

ModelInfo inspectModel(const std::string& path) {
  const std::string p = resolveModelLocation(path);
  if (fs::is_directory(p)) return inspectHf(p);
  std::string magic(4, '\0');
  {
    const MappedFile m(p);
    if (m.size() >= 4) magic.assign(reinterpret_cast<const char*>(m.data()), 4);
  }
  DUO_CHECK(magic == "GGUF" || fs::path(p).extension() == ".gguf", p,
            ": not a model (expected an HF folder with config.json or a .gguf file)");
  return inspectGguf(p);
}

}  // namespace duo
