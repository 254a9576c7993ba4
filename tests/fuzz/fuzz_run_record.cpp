// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: a run record (duoscope.run-record/1, or duoscope.run/1 as `prune --json`
// prints it) -> RunRecord::fromJson, then what the runs list shows (label, metric lookup) and the
// record written back with toJson(), which must read back.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/io/run_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const duo::RunRecord r = duo::RunRecord::fromJson(j, "fuzz/run.json");
    r.label();
    r.findMetric("perplexity", "pruned");
    const duo::RunRecord back = duo::RunRecord::fromJson(r.toJson(), "fuzz/roundtrip.json");
    back.label();
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
