// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: a timing profile (duoscope.timing/1, `--timing FILE`) -> parseTimingProfile,
// the cost lines the predictions read, and the profile written back, which must read back.
#include <cstdint>
#include <string>

#include "core/common/error.h"
#include "core/engine/timing_profile.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const duo::perf::TimingProfile p = duo::perf::parseTimingProfile(text, "fuzz/timing.json");
    for (const duo::perf::ShapeTiming& st : p.shapes)
      for (duo::perf::Kernel k : duo::perf::kAllKernels) st.at(k).seconds(1e6);
    p.name();
    duo::perf::parseTimingProfile(duo::perf::timingProfileJson(p), "fuzz/roundtrip.json");
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
