// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: config.json -> ModelConfig (and back) on arbitrary text.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/model/io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const duo::ModelConfig c = duo::parseHfConfig(j, "fuzz/config.json");
    duo::parseHfConfig(duo::hfConfigJson(c), "fuzz/roundtrip.json");  // what we write we must read
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
