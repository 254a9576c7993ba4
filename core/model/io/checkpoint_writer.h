// SPDX-License-Identifier: GPL-3.0-or-later
// A pruned checkpoint written as layers finish: HF folder, safetensors shards of at most
// maxShardBytes each (with model.safetensors.index.json when there is more than one), every
// tensor in one stored dtype (or, with int8, the projections as int8 and scales). Which tensor
// goes to which shard is planned from the config before anything is written (a sparse-bitmask
// projection counts at its largest size); each shard's header space is reserved when it is
// opened, its tensors go straight to the file as they come, and the header is written over the
// reserved space (padded with spaces) when the shard is closed. Nothing is buffered: memory stays
// one tensor whatever the model's size.
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

// How the projections are stored: dense, or compressed-tensors' sparse-bitmask layout
// (bitmask.h: four tensors per projection, the non-zero values plus a bit per weight).
enum class CheckpointFormat { Dense, SparseBitmask };

struct CheckpointWriterOptions {
  torch::ScalarType dtype = torch::kFloat32;  // every tensor's stored dtype: F32, F16 or BF16 (with
                                              // int8, every tensor's but the projections')
  int64_t maxShardBytes = kDefaultMaxShardBytes;
  CheckpointFormat format = CheckpointFormat::Dense;
  // The decoder layers' projections in compressed-tensors' int-quantized layout (int8_layout.h):
  // <name>.weight I8 [out, in] and <name>.weight_scale F32 [out, 1], quantised with
  // kernels::int8RowScale / quantizeInt8 (a zero stays q = 0), and config.json's
  // quantization_config says so. Dense format only.
  bool int8 = false;
};

// "dense" | "sparse-bitmask" (compressed-tensors' names) and back; parse throws duo::Error.
const char* checkpointFormatName(CheckpointFormat f);
CheckpointFormat parseCheckpointFormat(const std::string& name, const std::string& what);

// compressed-tensors' version whose sparse-bitmask layout and config block we write (the last
// release with a sparse-bitmask compressor; later ones read the block but no longer decompress).
inline constexpr const char* kCompressedTensorsVersion = "0.12.2";

// compressed-tensors' sparsity_config of a pruned checkpoint: {format, global_sparsity,
// sparsity_structure ("unstructured" | "N:M"), targets ["Linear"], ignore ["lm_head"],
// registry_requires_subclass false} (its SparsityCompressionConfig reads it back).
nlohmann::json compressedTensorsSparsity(CheckpointFormat format, double globalSparsity, const std::string& structure);

// What config.json carries for it. sparse-bitmask: `quantization_config` {quant_method
// "compressed-tensors", version, sparsity_config}, where compressed-tensors (<= 0.12, the releases
// that decompress it) finds it. dense: `duoscope_sparsity` (the same sparsity_config under our own
// key), because transformers 5 with compressed-tensors >= 0.15 refuses to load a
// quantization_config that holds only a sparsity_config, while a dense checkpoint must load
// anywhere (tests/reference/check_exports.py).
nlohmann::json checkpointSparsityConfig(CheckpointFormat format, double globalSparsity, const std::string& structure);

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
  // memory plans of models that are not on this machine. Dense format only, not int8.
  void skip(const TensorSlot& slot);
  // The layer's tensors in order (norms, projections, biases).
  void putLayer(int index, const LayerWeights& layer);
  // The next tensor the writer expects ("" when all are written).
  std::string nextName() const;

  // Finishes: every tensor written, config.json (hfConfigJson(config) with `extraConfig` merged
  // over it, torch_dtype set, with int8 quantization_config = int8QuantizationConfig(); then
  // `extraConfig` must not hold a quantization_config), the index when sharded, a copy of `tokenizerSource` (if given),
  // then renames the folder into place (an existing folder there is replaced only then).
  void commit(const nlohmann::json& extraConfig = {}, const std::string& tokenizerSource = "",
              const ProgressFn& progress = {});

  const std::string& partialDir() const;
  const std::vector<std::string>& shardFiles() const;  // file names, in order
  int64_t totalBytes() const;                          // tensor bytes written over all shards

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace duo
