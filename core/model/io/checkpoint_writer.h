// A pruned checkpoint written as layers finish: HF folder, safetensors shards of at most
// maxShardBytes each (with model.safetensors.index.json when there is more than one), every
// tensor in one stored dtype. The shard layout is planned from the config before anything is
// written (the names, shapes and dtype fix every offset), so each tensor goes straight to its
// place in its shard and nothing is buffered: memory stays one tensor whatever the model's size.
//
// The folder is assembled beside the destination (<dir>.partial-<pid>-...) and renamed into place
// by commit(); destroying the writer before commit() (cancel, an error, a full disk) removes it,
// so nothing half-written is ever at the destination. Stale partial folders of processes that no
// longer exist are removed when a new writer starts. Internal header (torch).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/io/tensor_names.h"
#include "core/model/llama_weights.h"

namespace duo {

// HF's default largest shard (transformers' save_pretrained max_shard_size "5GB").
inline constexpr int64_t kDefaultMaxShardBytes = 5'000'000'000;

struct CheckpointWriterOptions {
  torch::ScalarType dtype = torch::kFloat32;  // every tensor's stored dtype: F32, F16 or BF16
  int64_t maxShardBytes = kDefaultMaxShardBytes;
};

class CheckpointWriter {
 public:
  // Plans the shards for every tensor of modelSlots(config) and creates the partial folder.
  // Throws duo::Error naming outDir when it cannot (not a folder name, exists as a file, no
  // permission).
  CheckpointWriter(const std::string& outDir, const ModelConfig& config, const CheckpointWriterOptions& options = {});
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Writes one tensor (any dtype and device; converted to the stored dtype on the CPU). Tensors
  // must come in modelSlots order, each once, with the shape the config implies.
  void put(const TensorSlot& slot, const torch::Tensor& t);
  // Leaves the next tensor as a hole in its shard (reads as zeros): header-only checkpoints for
  // memory plans of models that are not on this machine.
  void skip(const TensorSlot& slot);
  // The layer's tensors in order (norms, projections, biases).
  void putLayer(int index, const LayerWeights& layer);
  // The next tensor the writer expects ("" when all are written).
  std::string nextName() const;

  // Finishes: every tensor written, config.json (hfConfigJson(config) with `extraConfig` merged
  // over it, torch_dtype set), the index when sharded, a copy of `tokenizerSource` (if given),
  // then renames the folder into place (an existing folder there is replaced only then).
  void commit(const nlohmann::json& extraConfig = {}, const std::string& tokenizerSource = "",
              const ProgressFn& progress = {});

  const std::string& partialDir() const;
  const std::vector<std::string>& shardFiles() const;  // file names, in order
  int64_t totalBytes() const;                          // tensor bytes over all shards

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// "float32" | "float16" | "bfloat16" (config.json's torch_dtype).
const char* torchDtypeConfigName(torch::ScalarType t);

}  // namespace duo
