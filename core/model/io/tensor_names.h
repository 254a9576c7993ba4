// SPDX-License-Identifier: GPL-3.0-or-later
// The tensors of a LLaMA-family model and their names in each file format. The two tables in
// tensor_names.cpp (HF and GGUF) are the only place that spells tensor names. Torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace duo {

// Which weight a tensor is. Per-layer kinds carry the layer index; Proj kinds carry the Proj.
enum class TensorKind { Embed, FinalNorm, LmHead, AttnNorm, MlpNorm, Proj, QBias, KBias, VBias };

struct TensorSlot {
  TensorKind kind = TensorKind::Embed;
  int layer = -1;       // >= 0 for per-layer kinds
  Proj proj = Proj::Q;  // for kind == Proj
  bool operator==(const TensorSlot& o) const {
    return kind == o.kind && layer == o.layer && (kind != TensorKind::Proj || proj == o.proj);
  }
};

enum class NameFormat { Hf, Gguf };

// "model.layers.3.self_attn.q_proj.weight" / "blk.3.attn_q.weight".
std::string tensorName(NameFormat format, const TensorSlot& slot);
// Inverse of tensorName; false for names not in the table.
bool parseTensorName(NameFormat format, const std::string& name, TensorSlot* out);
// Names that may appear in a file and are not loaded as weights (HF's rotary_emb.inv_freq buffers,
// GGUF's rope_freqs.weight, which ggufModelConfig reads).
bool isIgnorableTensorName(NameFormat format, const std::string& name);

// Every tensor a model with this config needs, in data-flow order (embed, layers, norm, lm_head);
// lm_head is omitted when the embeddings are tied.
std::vector<TensorSlot> modelSlots(const ModelConfig& config);
// Shape in nn.Linear / HF order ([n_out, k_in] for projections, [d] for norms).
std::vector<int64_t> expectedShape(const ModelConfig& config, const TensorSlot& slot);
// "[576, 192]"
std::string shapeString(const std::vector<int64_t>& shape);

}  // namespace duo
