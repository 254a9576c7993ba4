// SPDX-License-Identifier: GPL-3.0-or-later
// RoPE's inverse frequencies, the part of makeRope (llama_model.h) that the GGUF writer needs
// too: a LLaMA-3.x model's frequency scaling is stored in GGUF as per-frequency divisors
// (`rope_freqs.weight`). Internal header (torch).
#pragma once
#include <cstdint>

#include <torch/torch.h>

#include "core/model/model_config.h"

namespace duo {

// inv_freq_i = base^(-2i/hd), i in [0, hd/2), scaled as cfg.ropeScaling says (llama3, linear,
// rope_freqs; dynamic grows the base for sequences longer than the original context). [hd/2] f64.
torch::Tensor ropeInvFreq(const ModelConfig& cfg, int64_t seqLen = 0);

}  // namespace duo
