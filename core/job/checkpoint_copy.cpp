// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/checkpoint_copy.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/checkpoint_writer.h"
#include "core/model/io/int8_layout.h"
#include "core/model/io/weight_source.h"

namespace duo {

namespace fs = std::filesystem;
using nlohmann::json;

CheckpointCopy copyCheckpoint(const std::string& from, const std::string& to, const std::string& format,
                              const ProgressFn& progress) {
  DUO_CHECK(fs::is_directory(from), "checkpoint copy: ", from, " is not a checkpoint folder (it is missing)");
  DUO_CHECK(!to.empty(), "checkpoint copy: no destination folder given");
  std::error_code ec;
  DUO_CHECK(!fs::exists(to) || !fs::equivalent(from, to, ec), "checkpoint copy: ", to, " is the source folder itself");
  const json srcConfig = json::parse(readFile(from + "/config.json"), nullptr, false);
  DUO_CHECK(srcConfig.is_object(), from, "/config.json: not a JSON object");

  auto source = openWeightSource(from);
  CheckpointWriterOptions wo;
  wo.dtype = source->dtype();
  wo.format = parseCheckpointFormat(format, "checkpoint format");
  // An int8 checkpoint copied dense stays int8: its projections are read as q x scale and each row's
  // largest entry is 127 steps, so quantising them again gives back the same integers and scales.
  // (Its other tensors are read, and written, as f32.) In the sparse-bitmask layout they are f32.
  const json& qc = srcConfig.contains("quantization_config") ? srcConfig["quantization_config"] : json();
  wo.int8 = wo.format == CheckpointFormat::Dense && qc.is_object() && qc.value("format", std::string()) == kInt8Format;
  CheckpointWriter writer(to, source->config(), wo);
  const std::vector<TensorSlot> slots = modelSlots(source->config());
  const int64_t total = static_cast<int64_t>(slots.size());
  for (int64_t i = 0; i < total; ++i) {
    reportProgress(progress, {"export", "tensor " + std::to_string(i + 1), i, total});  // throws Cancelled
    writer.put(slots[static_cast<size_t>(i)], source->tensor(slots[static_cast<size_t>(i)]));
  }

  // The source's config keys (activation rule, thresholds, ...) with the sparsity block re-made for
  // the new format from the source's own numbers.
  json extra = srcConfig;
  json block = srcConfig.contains("duoscope_sparsity") ? srcConfig["duoscope_sparsity"]
               : srcConfig.contains("quantization_config") && srcConfig["quantization_config"].is_object()
                   ? srcConfig["quantization_config"].value("sparsity_config", json::object())
                   : json::object();
  extra.erase("duoscope_sparsity");
  extra.erase("quantization_config");
  extra.erase("torch_dtype");
  const double global = block.value("global_sparsity", 0.0);
  const std::string structure = block.value("sparsity_structure", std::string("unstructured"));
  extra.update(checkpointSparsityConfig(wo.format, global, structure));
  const std::string tokenizer = fs::exists(from + "/tokenizer.json") ? from + "/tokenizer.json" : std::string();
  CheckpointCopy c{from, to, checkpointFormatName(wo.format), wo.int8 ? std::string("I8") : dtypeName(wo.dtype),
                   writer.totalBytes()};
  if (fs::exists(from + "/duoscope.json")) {
    json run = json::parse(readFile(from + "/duoscope.json"), nullptr, false);
    if (run.is_object()) {
      run["out"] = to;
      run["out_format"] = c.format;
      run["out_dtype"] = c.dtype;  // what this copy stores (I8 for an int8 source copied dense)
      run["out_bytes"] = c.bytes;
      run["out_shards"] = writer.shardFiles();
      // Into the folder before it is renamed into place, as prune does.
      writeFileAtomic(writer.partialDir() + "/duoscope.json", run.dump(2) + "\n");
    }
  }
  // The base model's training record goes along: it names the model's default corpora.
  if (fs::exists(from + "/training.json")) writeFileAtomic(writer.partialDir() + "/training.json", readFile(from + "/training.json"));
  writer.commit(extra, tokenizer, progress);
  return c;
}

}  // namespace duo
