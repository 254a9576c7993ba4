#include "core/model/io/loader.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "core/common/error.h"
#include "core/common/paths.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/hf_weights.h"
#include "core/model/io/model_info.h"
#include "core/model/io/safetensors.h"
#include "core/model/io/tensor_names.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

// One stored tensor, wherever it came from: bytes inside a mapped file and how to decode them.
struct RawTensor {
  std::string name;
  std::string file;
  std::vector<int64_t> shape;  // torch order, outermost first
  uint32_t type = 0;           // GgmlType id
  const uint8_t* bytes = nullptr;
  int64_t elements = 0;
};

// Decodes a raw tensor into a new [shape] f32 tensor, in parallel over whole blocks, counting
// non-finite values while each chunk is still in cache.
torch::Tensor decode(const RawTensor& r, int64_t* nonFinite) {
  const GgmlTypeTraits traits = typeTraits(r.type);
  DUO_CHECK(traits.dequantizable, r.file, ": tensor '", r.name, "': storage type ", ggmlTypeName(r.type),
            " is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K are)");
  torch::Tensor t = torch::empty(r.shape, torch::kFloat32);  // [shape] f32
  float* dst = t.data_ptr<float>();
  const int64_t nBlocks = r.elements / traits.blockElems;
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / traits.blockElems);
  std::atomic<int64_t> bad{0};
  at::parallel_for(0, nBlocks, grain, [&](int64_t b, int64_t e) {
    float* y = dst + b * traits.blockElems;
    const int64_t n = (e - b) * traits.blockElems;
    dequantize(static_cast<GgmlType>(r.type), r.bytes + b * traits.blockBytes, y, n);
    int64_t local = 0;
    for (int64_t i = 0; i < n; ++i) local += std::isfinite(y[i]) ? 0 : 1;
    if (local > 0) bad += local;
  });
  *nonFinite = bad.load();
  return t;
}

void reportNonFinite(const torch::Tensor& t, int64_t count, const RawTensor& r) {
  const torch::Tensor bad = torch::logical_not(torch::isfinite(t)).flatten();  // [numel] bool
  const int64_t first = bad.nonzero().flatten()[0].item<int64_t>();
  fail(r.file, ": tensor '", r.name, "' contains ", count, " non-finite values (NaN/Inf), the first at flat index ",
       first, " (", t.flatten()[first].item<float>(), ")");
}

// Builds LlamaWeights from the named raw tensors of one model.
LlamaWeights assemble(const ModelConfig& config, NameFormat format, const std::map<std::string, RawTensor>& raw,
                      const std::string& where, bool unpermuteQk, const ProgressFn& progress) {
  // Every stored tensor must be one the model uses (or a known ignorable buffer).
  for (const auto& [name, r] : raw) {
    TensorSlot slot;
    if (!parseTensorName(format, name, &slot)) {
      DUO_CHECK(isIgnorableTensorName(format, name), r.file, ": unexpected tensor '", name,
                "' (not part of a ", config.architecture, " decoder we can run)");
      continue;
    }
    DUO_CHECK(slot.layer < config.numLayers, r.file, ": tensor '", name, "' belongs to layer ", slot.layer,
              " but the model has ", config.numLayers, " layers");
    const bool isBias = slot.kind == TensorKind::QBias || slot.kind == TensorKind::KBias || slot.kind == TensorKind::VBias;
    DUO_CHECK(!isBias || config.attentionBias, r.file, ": unexpected tensor '", name, "' (", config.architecture,
              " has no attention biases)");
  }

  const std::vector<TensorSlot> slots = modelSlots(config);
  LlamaWeights w;
  w.config = config;
  w.layers.resize(static_cast<size_t>(config.numLayers));
  int64_t done = 0;
  for (const TensorSlot& slot : slots) {
    const std::string name = tensorName(format, slot);
    reportProgress(progress, {"load", name, done, static_cast<int64_t>(slots.size())});
    auto it = raw.find(name);
    DUO_CHECK(it != raw.end(), where, ": missing tensor '", name, "'");
    const RawTensor& r = it->second;
    const std::vector<int64_t> want = expectedShape(config, slot);
    DUO_CHECK(r.shape == want, r.file, ": tensor '", name, "': expected ", shapeString(want), ", got ",
              shapeString(r.shape));
    int64_t nonFinite = 0;
    torch::Tensor t = decode(r, &nonFinite);  // [expected shape] f32, HF order after the q/k fix below
    if (nonFinite > 0) reportNonFinite(t, nonFinite, r);
    if (unpermuteQk && slot.kind == TensorKind::Proj && slot.proj == Proj::Q) t = unpermuteGgufQk(t, config.numHeads);
    if (unpermuteQk && slot.kind == TensorKind::Proj && slot.proj == Proj::K) t = unpermuteGgufQk(t, config.numKvHeads);
    LayerWeights* layer = slot.layer >= 0 ? &w.layers[static_cast<size_t>(slot.layer)] : nullptr;
    switch (slot.kind) {
      case TensorKind::Embed: w.embed = t; break;
      case TensorKind::FinalNorm: w.finalNorm = t; break;
      case TensorKind::LmHead: w.lmHead = t; break;
      case TensorKind::AttnNorm: layer->attnNorm = t; break;
      case TensorKind::MlpNorm: layer->mlpNorm = t; break;
      case TensorKind::Proj: layer->w(slot.proj) = t; break;
      case TensorKind::QBias: layer->qBias = t; break;
      case TensorKind::KBias: layer->kBias = t; break;
      case TensorKind::VBias: layer->vBias = t; break;
    }
    ++done;
  }
  if (config.tieWordEmbeddings) w.lmHead = w.embed;  // one storage: edits to one are edits to both
  reportProgress(progress, {"load", "done", done, static_cast<int64_t>(slots.size())});
  return w;
}

uint32_t safetensorsToGgml(const std::string& dtype) {
  if (dtype == "F32") return static_cast<uint32_t>(GgmlType::F32);
  if (dtype == "F16") return static_cast<uint32_t>(GgmlType::F16);
  if (dtype == "BF16") return static_cast<uint32_t>(GgmlType::BF16);
  return 0xFFFFFFFFu;  // unknown to typeTraits: decode() refuses it by name below
}

LlamaWeights loadHf(const std::string& dir, const ProgressFn& progress) {
  const ModelConfig config = readHfConfig(dir);
  const HfWeightFiles files = openHfWeights(dir);
  std::map<std::string, RawTensor> raw;
  for (const auto& [name, loc] : files.tensors) {
    const SafetensorsFile& f = *files.files[loc.file];
    const SafetensorsTensor& t = *loc.tensor;
    const uint32_t type = safetensorsToGgml(t.dtype);
    DUO_CHECK(type != 0xFFFFFFFFu || isIgnorableTensorName(NameFormat::Hf, name), f.path(), ": tensor '", name,
              "': dtype ", t.dtype, " is not supported (F32, F16, BF16 are)");
    raw[name] = RawTensor{name, f.path(), t.shape, type, f.tensorBytes(t), t.elements()};
  }
  return assemble(config, NameFormat::Hf, raw, dir, false, progress);
}

LlamaWeights loadGguf(const std::string& path, const ProgressFn& progress) {
  const GgufFile f(path);
  const ModelConfig config = ggufModelConfig(f.header(), path);
  std::map<std::string, RawTensor> raw;
  for (const GgufTensorInfo& t : f.header().tensors)
    raw[t.name] = RawTensor{t.name, path, t.shape(), t.type, f.tensorBytes(t), t.elements};
  return assemble(config, NameFormat::Gguf, raw, path, ggufPermutesQk(config.architecture), progress);
}

bool isGgufFile(const std::string& path) {
  if (fs::path(path).extension() == ".gguf") return true;
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return false;
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, fp);
  std::fclose(fp);
  return n == 4 && std::string(magic, 4) == "GGUF";
}

}  // namespace

LlamaWeights loadWeights(const std::string& path, const ProgressFn& progress) {
  const std::string p = resolveModelLocation(path);
  if (fs::is_directory(p)) return loadHf(p, progress);
  if (isGgufFile(p)) return loadGguf(p, progress);
  fail(p, ": not a model (expected an HF folder with config.json or a .gguf file)");
}

ModelConfig loadModelConfig(const std::string& path) {
  const std::string p = resolveModelLocation(path);
  if (fs::is_directory(p)) return readHfConfig(p);
  if (isGgufFile(p)) {
    const GgufFile f(p);
    return ggufModelConfig(f.header(), p);
  }
  fail(p, ": not a model (expected an HF folder with config.json or a .gguf file)");
}

// GGUF rows of one head: index (i, j) with i < headDim/2, j in {0,1} holds HF row (j, i).
torch::Tensor unpermuteGgufQk(const torch::Tensor& w, int64_t nHeads) {
  const int64_t rows = w.size(0);
  DUO_CHECK(nHeads > 0 && rows % (2 * nHeads) == 0, "unpermuteGgufQk: ", rows, " rows do not split into ", nHeads,
            " heads of even size");
  std::vector<int64_t> split = {nHeads, rows / nHeads / 2, 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

torch::Tensor permuteGgufQk(const torch::Tensor& w, int64_t nHeads) {
  const int64_t rows = w.size(0);
  DUO_CHECK(nHeads > 0 && rows % (2 * nHeads) == 0, "permuteGgufQk: ", rows, " rows do not split into ", nHeads,
            " heads of even size");
  std::vector<int64_t> split = {nHeads, 2, rows / nHeads / 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

}  // namespace duo
