// SPDX-License-Identifier: GPL-3.0-or-later
// Where a job's weights come from, one piece at a time: the layer streamer's input. Every job that
// walks the decoder asks a WeightSource for the embedding, then for one layer at a time, then for
// the final norm and the lm_head, so only what it is computing with is materialised.
//
// The mapped source keeps the model file(s) memory-mapped and decodes a tensor only when asked, in
// its storage dtype (F32/F16/BF16 are copied as they are; GGUF's quantised types and int8 weights
// with their per-row weight_scale, int8_layout.h, are dequantised to f32), then drops the mapped
// pages it read from this process's resident set (the page cache keeps them), so a 13.5 GB
// checkpoint costs one layer of resident memory, not the whole file.
// Opening checks every tensor's presence, name and shape against the config from the headers alone.
// Internal header (torch).
#pragma once
#include <memory>
#include <string>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/io/tensor_names.h"
#include "core/model/llama_weights.h"

namespace duo {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const ModelConfig& config() const = 0;
  // The dtype tensors come in: F32, F16 or BF16 (a quantised GGUF or an int8 checkpoint gives F32).
  virtual torch::ScalarType dtype() const = 0;
  // Where the weights come from, for messages ("<folder>", "<file>.gguf", "memory").
  virtual const std::string& where() const = 0;

  // One tensor, decoded into a new CPU tensor of dtype() in HF layout ([n_out, k_in], HF q/k row
  // order). Throws duo::Error naming the file and tensor for non-finite values.
  virtual torch::Tensor tensor(const TensorSlot& slot) = 0;

  // The pieces, in dtype() on the CPU.
  torch::Tensor embed();                // [vocab, d]
  LayerWeights layer(int index);        // the layer's norms, projections and biases
  torch::Tensor finalNorm();            // [d]
  torch::Tensor lmHead();               // [vocab, d]; the embedding when tied
};

// Opens the model at `path` (HF folder, a file inside one, .gguf, or an alias) for streaming.
// Reads headers only. Throws duo::Error naming the file and the fault. `hfConfig`, when given, is
// the HF folder's config.json already parsed (ModelRef), so the folder's config is not read again;
// a GGUF file's configuration is always taken from its own header.
std::unique_ptr<WeightSource> openWeightSource(const std::string& path, const ModelConfig* hfConfig = nullptr);

// A source over weights already in memory (not copied: tensors are returned as they are, on the
// device they are on). `dtype` is the first projection's.
std::unique_ptr<WeightSource> memoryWeightSource(const LlamaWeights& weights);

// Reads every tensor of `source` into LlamaWeights converted to f32 (the whole-model path).
// Progress: stage "load", one step per tensor; false cancels (duo::Cancelled).
LlamaWeights materialise(WeightSource& source, const ProgressFn& progress = {});

// "F32", "F16", "BF16" <-> torch dtypes ("?" for another dtype); parse also takes "f32" and
// "float32" forms and throws duo::Error naming `what` for anything else.
const char* dtypeName(torch::ScalarType t);
torch::ScalarType parseDtype(const std::string& name, const std::string& what);
// "float32" | "float16" | "bfloat16" (config.json's torch_dtype); "?" for another dtype.
const char* torchDtypeConfigName(torch::ScalarType t);

}  // namespace duo
