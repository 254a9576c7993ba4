// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/model_writer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/checkpoint_writer.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/tensor_names.h"
#include "core/model/io/weight_source.h"

namespace fs = std::filesystem;

namespace duo {


void saveSafetensors(const std::string& path, const NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata, const ProgressFn& progress) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::vector<torch::Tensor> data;  // each [numel] f32 contiguous CPU
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DUO_CHECK(!name.empty() && name != "__metadata__", path, ": invalid tensor name '", name, "'");
    DUO_CHECK(names.insert(name).second, path, ": tensor '", name, "' given twice");
    DUO_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();  // [t.shape] f32 CPU
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section starts 8-aligned
  const uint64_t n = text.size();
  writeFileAtomic(path, [&](std::ostream& os) {
    os.write(reinterpret_cast<const char*>(&n), 8);  // little-endian u64
    os.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (size_t i = 0; i < data.size(); ++i) {
      reportProgress(progress, {"save", tensors[i].first, static_cast<int64_t>(i), static_cast<int64_t>(data.size())});
      os.write(reinterpret_cast<const char*>(data[i].data_ptr<float>()),
               static_cast<std::streamsize>(data[i].numel() * 4));
      DUO_CHECK(os.good(), path, ": write failed (disk full?)");
    }
  });
}

NamedTensors hfNamedTensors(const LlamaWeights& w) {
  const ModelConfig& c = w.config;
  const std::unique_ptr<WeightSource> source = memoryWeightSource(w);
  NamedTensors out;
  for (const TensorSlot& slot : modelSlots(c)) {
    torch::Tensor t;
    try {
      t = source->tensor(slot);
    } catch (...) {
      rethrowWithContext("saving weights");
    }
    const std::string name = tensorName(NameFormat::Hf, slot);
    const std::vector<int64_t> want = expectedShape(c, slot);
    DUO_CHECK(t.sizes().vec() == want, "saving weights: tensor '", name, "': expected ", shapeString(want), ", got ",
              shapeString(t.sizes().vec()));
    out.emplace_back(name, t);
  }
  return out;
}

void saveHfCheckpoint(const LlamaWeights& w, const std::string& outDir, const nlohmann::json& extraConfig,
                      const std::string& tokenizerSource, const ProgressFn& progress,
                      const CheckpointWriterOptions& options) {
  DUO_CHECK(extraConfig.is_null() || extraConfig.is_object(), outDir, ": extra config must be a JSON object");
  DUO_CHECK(tokenizerSource.empty() || fs::is_regular_file(tokenizerSource), tokenizerSource,
            ": tokenizer file to copy is missing");
  // An lm_head tied in the config but edited apart from embed must be saved untied.
  LlamaWeights copy;
  const LlamaWeights* src = &w;
  if (w.config.tieWordEmbeddings && w.lmHead.defined() && !w.lmHead.is_same(w.embed) &&
      !torch::equal(w.lmHead, w.embed)) {
    copy = w;
    copy.config.tieWordEmbeddings = false;
    src = &copy;
  }
  const NamedTensors named = hfNamedTensors(*src);  // checks presence and shapes first
  const std::vector<TensorSlot> slots = modelSlots(src->config);
  DUO_ASSERT(slots.size() == named.size());
  CheckpointWriter writer(outDir, src->config, options);
  for (size_t i = 0; i < slots.size(); ++i) {
    reportProgress(progress, {"save", named[i].first, static_cast<int64_t>(i), static_cast<int64_t>(slots.size())});
    writer.put(slots[i], named[i].second);
  }
  writer.commit(extraConfig, tokenizerSource, progress);
}

}  // namespace duo
