// SPDX-License-Identifier: GPL-3.0-or-later
// compressed-tensors' `int-quantized` layout of 2-D weights (prune --out-dtype int8): symmetric int8
// with one scale per output channel (row), stored as two safetensors tensors beside each other:
//   <module>.weight        I8 [out, in]   q, in [-127, 127]
//   <module>.weight_scale  F32 [out, 1]   the row's scale (readers also take F16/BF16)
// and weight (r, c) = q(r, c) * weight_scale[r]. There is no zero point (symmetric), so a pruned
// weight is q = 0 exactly. config.json says so in `quantization_config` (int8QuantizationConfig).
// DuoScope writes scale[r] = max_c |W(r, c)| / 127 (1 for an all-zero row) and q = W / scale rounded
// to nearest even, clamped: kernels::int8RowScale and kernels::quantizeInt8, the integers our int8
// kernels use. Torch-free.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace duo {

// The scale tensor's name is the weight's with this in place of its last component ("weight").
inline constexpr const char* kInt8ScaleSuffix = "weight_scale";
// compressed-tensors' name of the format (quantization_config.format, config_groups.*.format).
inline constexpr const char* kInt8Format = "int-quantized";

// config.json's `quantization_config` for a checkpoint whose decoder Linear weights are int8 per
// channel (W8A16: activations stay in the model dtype): quant_method "compressed-tensors", format
// "int-quantized", quantization_status "compressed", one config group {targets ["Linear"], weights
// {num_bits 8, type "int", symmetric true, strategy "channel"}, input_activations null}, ignore
// ["lm_head"]. Only fields that compressed-tensors 0.12 and 0.19 both know (their schemes refuse
// unknown keys).
nlohmann::json int8QuantizationConfig();

// "" when `group` (one entry of quantization_config.config_groups) describes weights we read: int8,
// symmetric, one scale per output channel, no activation quantisation. Otherwise what is not, for
// an error message ("weights.strategy \"group\" is not \"channel\"").
std::string int8GroupFault(const nlohmann::json& group);

}  // namespace duo
