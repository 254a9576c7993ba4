// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: safetensors header parsing and tensor conversion on arbitrary bytes.
// Any input must either parse or throw duo::Error; accepted tensors are converted to f32 to
// prove their byte ranges are really inside the buffer (ASan checks every read).
#include <cstdint>
#include <vector>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/model/io/dequant.h"
#include "core/model/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const duo::SafetensorsHeader h = duo::parseSafetensorsHeader(data, size, "fuzz.safetensors");
    std::vector<float> out;  // [elements] f32
    for (const duo::SafetensorsTensor& t : h.tensors) {
      const int64_t n = t.elements();
      if (n > (1 << 20)) continue;
      out.resize(static_cast<size_t>(n));
      const uint8_t* src = data + h.dataOffset + t.begin;
      if (t.dtype == "F16") duo::dequantize(duo::GgmlType::F16, src, out.data(), n);
      else if (t.dtype == "BF16") duo::dequantize(duo::GgmlType::BF16, src, out.data(), n);
      else if (t.dtype == "F32") duo::dequantize(duo::GgmlType::F32, src, out.data(), n);
    }
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
