// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/weight_source.h"

#include <ATen/Parallel.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/common/error.h"
#include "core/model/io/bitmask.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/hf_weights.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_info.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

// The float dtypes weights are read and written in, by every name each goes by.
struct DtypeNames {
  torch::ScalarType type;
  const char* shortName;   // what users type: "f32"
  const char* code;        // safetensors / run records: "F32"
  const char* configName;  // config.json's torch_dtype: "float32"
};
constexpr DtypeNames kDtypeNames[] = {{torch::kFloat32, "f32", "F32", "float32"},
                                  {torch::kFloat16, "f16", "F16", "float16"},
                                  {torch::kBFloat16, "bf16", "BF16", "bfloat16"}};

const DtypeNames* findDtype(torch::ScalarType t) {
  for (const DtypeNames& d : kDtypeNames)
    if (d.type == t) return &d;
  return nullptr;
}

}  // namespace

const char* dtypeName(torch::ScalarType t) {
  const DtypeNames* d = findDtype(t);
  return d ? d->code : "?";
}

const char* torchDtypeConfigName(torch::ScalarType t) {
  const DtypeNames* d = findDtype(t);
  return d ? d->configName : "?";
}

torch::ScalarType parseDtype(const std::string& name, const std::string& what) {
  for (const DtypeNames& d : kDtypeNames)
    if (name == d.shortName || name == d.code || name == d.configName) return d.type;
  fail(what, " '", name, "' is not one of f32, f16, bf16");
}

torch::Tensor WeightSource::embed() { return tensor({TensorKind::Embed, -1, Proj::Q}); }
torch::Tensor WeightSource::finalNorm() { return tensor({TensorKind::FinalNorm, -1, Proj::Q}); }
torch::Tensor WeightSource::lmHead() {
  return config().tieWordEmbeddings ? embed() : tensor({TensorKind::LmHead, -1, Proj::Q});
}

LayerWeights WeightSource::layer(int index) {
  const ModelConfig& c = config();
  DUO_CHECK(index >= 0 && index < c.numLayers, where(), ": layer ", index, " requested, the model has ", c.numLayers);
  LayerWeights lw;
  lw.attnNorm = tensor({TensorKind::AttnNorm, index, Proj::Q});
  lw.mlpNorm = tensor({TensorKind::MlpNorm, index, Proj::Q});
  for (int p = 0; p < kNumProj; ++p) lw.proj[static_cast<size_t>(p)] = tensor({TensorKind::Proj, index, static_cast<Proj>(p)});
  if (c.attentionBias) {
    lw.qBias = tensor({TensorKind::QBias, index, Proj::Q});
    lw.kBias = tensor({TensorKind::KBias, index, Proj::K});
    lw.vBias = tensor({TensorKind::VBias, index, Proj::V});
  }
  return lw;
}

namespace {

// One stored tensor: bytes inside a mapped file and how to decode them.
struct RawTensor {
  std::string name;
  std::string file;
  std::vector<int64_t> shape;  // torch order, outermost first
  uint32_t type = 0;           // GgmlType id
  const uint8_t* bytes = nullptr;
  int64_t byteCount = 0;
  int64_t elements = 0;
  // A sparse-bitmask weight (bitmask.h): `bytes`/`byteCount` are its values; type is theirs.
  bool bitmask = false;
  int64_t nnz = 0;
  const uint8_t* mask = nullptr;
  int64_t maskBytes = 0;
  const uint8_t* rowOffsets = nullptr;
  // An int8 weight (int8_layout.h): `bytes` are its I8 [rows, cols] integers, type GgmlType::I8;
  // `scale` its per-row scales [rows] of scaleType (F32, F16 or BF16), stored as `scaleName`.
  bool int8 = false;
  const uint8_t* scale = nullptr;
  uint32_t scaleType = 0;
  std::string scaleName = "", scaleFile = "";
};

// Drops this process's mapping of [p, p + n) (rounded out to pages): the pages stay in the page
// cache, and a later read faults them in again. Read-only private file pages were never written,
// so nothing is lost.
void dropPages(const uint8_t* p, int64_t n) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(n) + page - 1) & ~(page - 1);
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

// Non-finite test on raw storage: f32 exponent all ones; f16 0x7C00; bf16 0x7F80. The bytes need
// not be aligned to the element (a safetensors header of odd length puts the data at an odd
// offset), so elements are read with memcpy, which compiles to plain unaligned loads.
int64_t countNonFinite(const RawTensor& r) {
  const auto type = static_cast<GgmlType>(r.type);
  std::atomic<int64_t> bad{0};
  at::parallel_for(0, r.elements, 1 << 16, [&](int64_t b, int64_t e) {
    int64_t local = 0;
    if (type == GgmlType::F32) {
      for (int64_t i = b; i < e; ++i) {
        uint32_t x;
        std::memcpy(&x, r.bytes + 4 * i, sizeof x);
        local += (x & 0x7F800000u) == 0x7F800000u;
      }
    } else {
      const uint16_t m = type == GgmlType::F16 ? 0x7C00 : 0x7F80;
      for (int64_t i = b; i < e; ++i) {
        uint16_t x;
        std::memcpy(&x, r.bytes + 2 * i, sizeof x);
        local += (x & m) == m;
      }
    }
    if (local > 0) bad += local;
  });
  return bad.load();
}

// Dequantises a quantised tensor into a new [shape] f32 tensor, in parallel over whole blocks,
// counting non-finite values while each chunk is still in cache.
torch::Tensor dequantiseRaw(const RawTensor& r, int64_t* nonFinite) {
  const GgmlTypeTraits traits = typeTraits(r.type);
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

// Element i of a float array stored as F32, F16 or BF16 (possibly unaligned), as f32.
float loadFloat(const uint8_t* p, GgmlType type, int64_t i) {
  if (type == GgmlType::F32) {
    float v;
    std::memcpy(&v, p + 4 * i, sizeof v);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, p + 2 * i, sizeof h);
  return type == GgmlType::F16 ? halfToFloat(h) : bf16ToFloat(h);
}

// Dequantises an int8 weight into a new [rows, cols] f32 tensor: q(r, c) * scale[r], computed in
// f32. A non-finite scale is refused naming the scale tensor and its row.
torch::Tensor dequantiseInt8(const RawTensor& r) {
  const int64_t rows = r.shape[0], cols = r.shape[1];
  const auto scaleType = static_cast<GgmlType>(r.scaleType);
  std::vector<float> scale(static_cast<size_t>(rows));  // [rows] f32
  for (int64_t i = 0; i < rows; ++i) {
    scale[static_cast<size_t>(i)] = loadFloat(r.scale, scaleType, i);
    DUO_CHECK(std::isfinite(scale[static_cast<size_t>(i)]), r.scaleFile, ": tensor '", r.scaleName, "': the scale of row ",
              i, " is ", scale[static_cast<size_t>(i)]);
  }
  torch::Tensor t = torch::empty({rows, cols}, torch::kFloat32);  // [rows, cols] f32
  float* dst = t.data_ptr<float>();
  const auto* q = reinterpret_cast<const int8_t*>(r.bytes);
  at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float s = scale[static_cast<size_t>(i)];
      for (int64_t c = 0; c < cols; ++c) dst[i * cols + c] = static_cast<float>(q[i * cols + c]) * s;
    }
  });
  dropPages(r.scale, rows * (scaleType == GgmlType::F32 ? 4 : 2));
  return t;
}

// Decodes a raw tensor: F32/F16/BF16 copied in their own dtype, int8 and quantised types to f32.
torch::Tensor decodeRaw(const RawTensor& r) {
  if (r.int8) {
    torch::Tensor t = dequantiseInt8(r);  // finite scales times integers: finite
    dropPages(r.bytes, r.byteCount);
    return t;
  }
  const GgmlTypeTraits traits = typeTraits(r.type);
  DUO_CHECK(traits.dequantizable, r.file, ": tensor '", r.name, "': storage type ", ggmlTypeName(r.type),
            " is not supported (supported: ", dequantizableTypeNames(), ")");
  const auto type = static_cast<GgmlType>(r.type);
  torch::Tensor t;       // [shape] in the storage dtype, or f32
  int64_t nonFinite = 0;
  if (r.bitmask) {
    const auto dt = type == GgmlType::F32 ? torch::kFloat32 : type == GgmlType::F16 ? torch::kFloat16 : torch::kBFloat16;
    t = torch::empty(r.shape, dt);
    bitmaskDecode(r.bytes, r.nnz, r.mask, reinterpret_cast<const int64_t*>(r.rowOffsets), r.shape[0], r.shape[1],
                  static_cast<int>(c10::elementSize(dt)), t.data_ptr(), r.file + ": sparse-bitmask tensor '" + r.name + "'");
    RawTensor values = r;
    values.elements = r.nnz;
    nonFinite = countNonFinite(values);
    dropPages(r.mask, r.maskBytes);
    dropPages(r.rowOffsets, r.shape[0] * 8);
  } else if (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16) {
    const auto dt = type == GgmlType::F32 ? torch::kFloat32 : type == GgmlType::F16 ? torch::kFloat16 : torch::kBFloat16;
    t = torch::empty(r.shape, dt);
    std::memcpy(t.data_ptr(), r.bytes, static_cast<size_t>(r.byteCount));
    nonFinite = countNonFinite(r);
  } else {
    t = dequantiseRaw(r, &nonFinite);
  }
  dropPages(r.bytes, r.byteCount);
  if (nonFinite > 0) {
    const torch::Tensor bad = torch::logical_not(torch::isfinite(t)).flatten();  // [numel] bool
    const int64_t first = bad.nonzero().flatten()[0].item<int64_t>();
    fail(r.file, ": tensor '", r.name, "' contains ", nonFinite, " non-finite values (NaN/Inf), the first at flat index ",
         first, " (", t.flatten()[first].to(torch::kFloat32).item<float>(), ")");
  }
  return t;
}

uint32_t safetensorsToGgml(const std::string& dtype) {
  if (dtype == "F32") return static_cast<uint32_t>(GgmlType::F32);
  if (dtype == "F16") return static_cast<uint32_t>(GgmlType::F16);
  if (dtype == "BF16") return static_cast<uint32_t>(GgmlType::BF16);
  return 0xFFFFFFFFu;  // unknown to typeTraits: decodeRaw() refuses it by name
}

class MappedSource final : public WeightSource {
 public:
  // HF folder.
  MappedSource(const std::string& dir, const ModelConfig* config) : m_where(dir), m_format(NameFormat::Hf) {
    m_config = config ? *config : readHfConfig(dir);
    m_hf = std::make_unique<HfWeightFiles>(openHfWeights(dir));
    for (const auto& [name, loc] : m_hf->tensors) {
      const SafetensorsFile& f = *m_hf->files[loc.file];
      const SafetensorsTensor& t = *loc.tensor;
      if (m_hf->isBitmaskPart(name) || m_hf->isInt8Scale(name) || m_hf->int8.count(name) > 0) continue;
      const uint32_t type = safetensorsToGgml(t.dtype);
      DUO_CHECK(type != 0xFFFFFFFFu || isIgnorableTensorName(NameFormat::Hf, name), f.path(), ": tensor '", name,
                "': dtype ", t.dtype, " is not supported (F32, F16, BF16 are)");
      m_raw[name] = RawTensor{name, f.path(), t.shape, type, f.tensorBytes(t), static_cast<int64_t>(t.end - t.begin),
                              t.elements()};
    }
    for (const auto& [name, w] : m_hf->bitmask) {
      const SafetensorsFile& vf = *m_hf->files[w.values.file];
      RawTensor r{name, vf.path(), w.dims, safetensorsToGgml(w.dtype), vf.tensorBytes(*w.values.tensor),
                  static_cast<int64_t>(w.values.tensor->end - w.values.tensor->begin), w.dims[0] * w.dims[1]};
      r.bitmask = true;
      r.nnz = w.values.tensor->elements();
      r.mask = m_hf->files[w.mask.file]->tensorBytes(*w.mask.tensor);
      r.maskBytes = static_cast<int64_t>(w.mask.tensor->end - w.mask.tensor->begin);
      r.rowOffsets = m_hf->files[w.rowOffsets.file]->tensorBytes(*w.rowOffsets.tensor);
      m_raw[name] = r;
    }
    for (const auto& [name, w] : m_hf->int8) {
      const SafetensorsFile& wf = *m_hf->files[w.weight.file];
      const SafetensorsFile& sf = *m_hf->files[w.scale.file];
      RawTensor r{name, wf.path(), w.weight.tensor->shape, static_cast<uint32_t>(GgmlType::I8),
                  wf.tensorBytes(*w.weight.tensor), static_cast<int64_t>(w.weight.tensor->end - w.weight.tensor->begin),
                  w.weight.tensor->elements()};
      r.int8 = true;
      r.scale = sf.tensorBytes(*w.scale.tensor);
      r.scaleType = safetensorsToGgml(w.scale.tensor->dtype);
      r.scaleName = w.scale.tensor->name;
      r.scaleFile = sf.path();
      m_raw[name] = r;
    }
    validate();
  }

  // GGUF file.
  MappedSource(const std::string& path, bool /*gguf*/) : m_where(path), m_format(NameFormat::Gguf) {
    m_gguf = std::make_unique<GgufFile>(path);
    m_config = ggufModelConfig(m_gguf->header(), path);
    m_unpermuteQk = ggufPermutesQk(m_config.architecture);
    for (const GgufTensorInfo& t : m_gguf->header().tensors)
      m_raw[t.name] = RawTensor{t.name, path, t.shape(), t.type, m_gguf->tensorBytes(t), static_cast<int64_t>(t.bytes),
                                t.elements};
    validate();
  }

  const ModelConfig& config() const override { return m_config; }
  torch::ScalarType dtype() const override { return m_dtype; }
  const std::string& where() const override { return m_where; }

  torch::Tensor tensor(const TensorSlot& slot) override {
    const std::string name = tensorName(m_format, slot);
    auto it = m_raw.find(name);
    DUO_CHECK(it != m_raw.end(), m_where, ": missing tensor '", name, "'");
    torch::Tensor t = decodeRaw(it->second);
    if (m_unpermuteQk && slot.kind == TensorKind::Proj && slot.proj == Proj::Q) t = unpermuteGgufQk(t, m_config.numHeads);
    if (m_unpermuteQk && slot.kind == TensorKind::Proj && slot.proj == Proj::K) t = unpermuteGgufQk(t, m_config.numKvHeads);
    return t;
  }

 private:
  // Names, layers, biases and shapes of every tensor against the config, from the headers alone.
  void validate() {
    for (const auto& [name, r] : m_raw) {
      TensorSlot slot;
      if (!parseTensorName(m_format, name, &slot)) {
        DUO_CHECK(isIgnorableTensorName(m_format, name), r.file, ": unexpected tensor '", name,
                  "' (not part of a ", m_config.architecture, " decoder we can run)");
        continue;
      }
      DUO_CHECK(slot.layer < m_config.numLayers, r.file, ": tensor '", name, "' belongs to layer ", slot.layer,
                " but the model has ", m_config.numLayers, " layers");
      const bool isBias = slot.kind == TensorKind::QBias || slot.kind == TensorKind::KBias || slot.kind == TensorKind::VBias;
      DUO_CHECK(!isBias || m_config.attentionBias, r.file, ": unexpected tensor '", name, "' (", m_config.architecture,
                " has no attention biases)");
    }
    std::map<uint32_t, int> projTypes;
    for (const TensorSlot& slot : modelSlots(m_config)) {
      const std::string name = tensorName(m_format, slot);
      auto it = m_raw.find(name);
      DUO_CHECK(it != m_raw.end(), m_where, ": missing tensor '", name, "'");
      const std::vector<int64_t> want = expectedShape(m_config, slot);
      DUO_CHECK(it->second.shape == want, it->second.file, ": tensor '", name, "': expected ", shapeString(want), ", got ",
                shapeString(it->second.shape));
      const GgmlTypeTraits traits = typeTraits(it->second.type);
      DUO_CHECK(traits.dequantizable || it->second.int8, it->second.file, ": tensor '", name, "': storage type ",
                ggmlTypeName(it->second.type), " is not supported (supported: ", dequantizableTypeNames(), ")");
      if (slot.kind == TensorKind::Proj) ++projTypes[it->second.type];
    }
    // The source dtype: the projections' when they all share one float type, else f32 (also for
    // int8 projections, which decode to f32).
    m_dtype = torch::kFloat32;
    if (projTypes.size() == 1) {
      const auto t = static_cast<GgmlType>(projTypes.begin()->first);
      if (t == GgmlType::F16) m_dtype = torch::kFloat16;
      if (t == GgmlType::BF16) m_dtype = torch::kBFloat16;
    }
  }

  std::string m_where;
  NameFormat m_format;
  ModelConfig m_config;
  torch::ScalarType m_dtype = torch::kFloat32;
  bool m_unpermuteQk = false;
  std::unique_ptr<HfWeightFiles> m_hf;
  std::unique_ptr<GgufFile> m_gguf;
  std::map<std::string, RawTensor> m_raw;
};

class MemorySource final : public WeightSource {
 public:
  explicit MemorySource(const LlamaWeights& w) : m_w(w) {
    DUO_CHECK(static_cast<int64_t>(w.layers.size()) == w.config.numLayers, "weights: config says ", w.config.numLayers,
              " layers, weights have ", w.layers.size());
    m_dtype = w.layers.empty() ? torch::kFloat32 : w.layers[0].w(Proj::Q).scalar_type();
  }
  const ModelConfig& config() const override { return m_w.config; }
  torch::ScalarType dtype() const override { return m_dtype; }
  const std::string& where() const override { return m_where; }
  torch::Tensor tensor(const TensorSlot& slot) override {
    const LayerWeights* l = slot.layer >= 0 ? &m_w.layers.at(static_cast<size_t>(slot.layer)) : nullptr;
    torch::Tensor t;
    switch (slot.kind) {
      case TensorKind::Embed: t = m_w.embed; break;
      case TensorKind::FinalNorm: t = m_w.finalNorm; break;
      case TensorKind::LmHead: t = m_w.lmHead; break;
      case TensorKind::AttnNorm: t = l->attnNorm; break;
      case TensorKind::MlpNorm: t = l->mlpNorm; break;
      case TensorKind::Proj: t = l->w(slot.proj); break;
      case TensorKind::QBias: t = l->qBias; break;
      case TensorKind::KBias: t = l->kBias; break;
      case TensorKind::VBias: t = l->vBias; break;
    }
    DUO_CHECK(t.defined(), "weights in memory: tensor '", tensorName(NameFormat::Hf, slot), "' is missing");
    return t;
  }

 private:
  const LlamaWeights& m_w;
  torch::ScalarType m_dtype;
  std::string m_where = "memory";
};

}  // namespace

std::unique_ptr<WeightSource> openWeightSource(const std::string& path, const ModelConfig* hfConfig) {
  const std::string p = resolveModelLocation(path);
  if (fs::is_directory(p)) return std::make_unique<MappedSource>(p, hfConfig);
  if (isGgufFile(p)) return std::make_unique<MappedSource>(p, true);
  fail(p, ": not a model (expected an HF folder with config.json or a .gguf file)");
}

std::unique_ptr<WeightSource> memoryWeightSource(const LlamaWeights& weights) {
  return std::make_unique<MemorySource>(weights);
}

LlamaWeights materialise(WeightSource& source, const ProgressFn& progress) {
  const ModelConfig& config = source.config();
  const std::vector<TensorSlot> slots = modelSlots(config);
  LlamaWeights w;
  w.config = config;
  w.layers.resize(static_cast<size_t>(config.numLayers));
  int64_t done = 0;
  for (const TensorSlot& slot : slots) {
    reportProgress(progress, {"load", tensorName(NameFormat::Hf, slot), done, static_cast<int64_t>(slots.size())});
    torch::Tensor t = source.tensor(slot).to(torch::kFloat32).contiguous();  // [expected shape] f32
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

}  // namespace duo
