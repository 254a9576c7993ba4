// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: a sparsity config (duoscope.sparsity/1, `prune --config`) -> SparsityConfig,
// in both forms: with its own num_layers and against a 4-layer model (the short "default" form).
// An accepted config is written back with toJson() and must read back equal.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/prune/sparsity_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  for (const int modelLayers : {-1, 4}) {
    try {
      const duo::SparsityConfig c = duo::SparsityConfig::fromJson(j, modelLayers, "fuzz/sparsity.json");
      c.meanWeight();
      c.meanAct();
      const duo::SparsityConfig back = duo::SparsityConfig::fromJson(c.toJson(), c.numLayers(), "fuzz/roundtrip.json");
      if (!(back == c)) std::abort();  // what we write we must read, unchanged
    } catch (const duo::Error& e) {
      duo::fuzz::note(e);
    }
  }
  return 0;
}
