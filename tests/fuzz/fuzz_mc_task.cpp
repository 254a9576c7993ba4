// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: a multiple-choice task file (JSONL, every layout of kMcTaskFormats, detected
// from the first line) -> parseMcTask, then the task written back as JSONL, which must read back.
#include <cstdint>
#include <string>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/data/mc_task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const duo::McTask task = duo::parseMcTask(text, "fuzz/task.jsonl", "auto");
    for (const duo::McItem& item : task.items)
      for (size_t c = 0; c < item.choices.size(); ++c) item.contextOf(c);
    duo::parseMcTask(duo::mcTaskJsonl(task), "fuzz/roundtrip.jsonl", "duoscope");
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
