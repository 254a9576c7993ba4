// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF export: any model we read (an HF folder, pruned or not, or a GGUF) written as a GGUF v3
// file llama.cpp and PyPI `gguf` read: llama.cpp's metadata keys for the architecture (llama for
// LLaMA/Mistral/SmolLM, qwen2), its tensor names, q/k rows permuted to llama.cpp's RoPE layout
// (llama only, as its converter does), embeddings and projections in F32, F16 or BF16 (pruned
// zeros stay exact), norms, biases and rope_freqs in F32, and the tokenizer (tokenizer.ggml.*):
// byte-level BPE from tokenizer.json (model "gpt2", with the pre-type that splits as the file
// does), SentencePiece from tokenizer.model (model "llama", scores), or a GGUF source's own.
// The tensors are streamed one at a time into <out>.partial-<pid>-... and renamed into place.
// Internal header (torch).
#pragma once
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/model/io/weight_source.h"
#include "core/model/tokenizer/tokenizer_spec.h"

namespace duo {

struct GgufExportOptions {
  torch::ScalarType dtype = torch::kFloat16;  // embeddings and projections: F32, F16 or BF16
  std::string name;                           // general.name; "" = the model's folder or file name
};

struct GgufExportResult {
  std::string path;
  int64_t fileBytes = 0;
  int64_t tensors = 0;
  std::string tokenizer;  // "gpt2 (pre smollm)", "llama"
};

// The tokenizer a model carries, in GGUF form: a GGUF's own metadata; an HF folder's
// tokenizer.model (SentencePiece) when present, else its byte-level BPE tokenizer.json
// (tokenizerJsonSpec). Throws duo::Error naming the file when it has neither form.
TokenizerSpec exportTokenizerSpec(const std::string& modelPath);

// Writes the model of `source` with `tokenizer` to `outPath`. Refused, naming the model and the
// field: architectures other than llama/mistral/qwen2, a sliding window shorter than the context
// (llama.cpp's llama architecture has none), dynamic RoPE scaling, a tokenizer larger than the
// embedding. Progress: stage "save", one step per tensor; false cancels (nothing is left behind).
GgufExportResult exportGguf(WeightSource& source, const TokenizerSpec& tokenizer, const std::string& outPath,
                            const GgufExportOptions& options = {}, const ProgressFn& progress = {});

}  // namespace duo
