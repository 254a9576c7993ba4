// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/int8_layout.h"

namespace duo {

nlohmann::json int8QuantizationConfig() {
  const nlohmann::json weights = {{"num_bits", 8},        {"type", "int"},           {"symmetric", true},
                                  {"strategy", "channel"}, {"group_size", nullptr},   {"block_structure", nullptr},
                                  {"dynamic", false},      {"actorder", nullptr}};
  const nlohmann::json group = {{"targets", {"Linear"}},
                                {"weights", weights},
                                {"input_activations", nullptr},
                                {"output_activations", nullptr},
                                {"format", kInt8Format}};
  return {{"quant_method", "compressed-tensors"},
          {"format", kInt8Format},
          {"quantization_status", "compressed"},
          {"config_groups", {{"group_0", group}}},
          {"ignore", {"lm_head"}},
          {"kv_cache_scheme", nullptr},
          {"global_compression_ratio", nullptr}};
}

std::string int8GroupFault(const nlohmann::json& group) {
  if (!group.is_object()) return "a group is not an object";
  const auto absentOrNull = [&](const nlohmann::json& o, const char* key) {
    return !o.contains(key) || o[key].is_null();
  };
  for (const char* act : {"input_activations", "output_activations"})
    if (!absentOrNull(group, act)) return std::string(act) + " are quantised (only weights may be)";
  if (!absentOrNull(group, "format") && group["format"] != kInt8Format)
    return "format " + group["format"].dump() + " is not \"" + kInt8Format + "\"";
  if (!group.contains("weights") || !group["weights"].is_object()) return "it has no 'weights' scheme";
  const nlohmann::json& w = group["weights"];
  // Absent keys take compressed-tensors' defaults (8 bits, int, symmetric, not dynamic).
  const nlohmann::json bits = w.value("num_bits", nlohmann::json(8)), strategy = w.value("strategy", nlohmann::json());
  if (bits != 8) return "weights.num_bits " + bits.dump() + " is not 8";
  if (w.value("type", nlohmann::json("int")) != "int") return "weights.type " + w["type"].dump() + " is not \"int\"";
  if (w.value("symmetric", nlohmann::json(true)) != true)
    return "weights.symmetric is not true (zero points are not supported)";
  if (strategy != "channel")
    return "weights.strategy " + strategy.dump() + " is not \"channel\" (one scale per output row)";
  if (!absentOrNull(w, "group_size"))
    return "weights.group_size " + w["group_size"].dump() + " is set (per channel has none)";
  if (!absentOrNull(w, "block_structure")) return "weights.block_structure " + w["block_structure"].dump() + " is set";
  if (w.value("dynamic", nlohmann::json(false)) != false) return "weights.dynamic is not false";
  if (!absentOrNull(w, "actorder")) return "weights.actorder " + w["actorder"].dump() + " is set";
  return "";
}

}  // namespace duo
