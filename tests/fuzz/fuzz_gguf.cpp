// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the GGUF parser on arbitrary bytes, then (for accepted files) the metadata
// readers (ModelConfig, TokenizerSpec) and dequantisation of every tensor whose type we decode.
#include <cstdint>
#include <vector>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/gguf_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duo::GgufHeader h;
  try {
    h = duo::parseGguf(data, size, "fuzz.gguf");
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
    return 0;
  }
  try {
    duo::ggufModelConfig(h, "fuzz.gguf", data);
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  try {
    duo::ggufTokenizerSpec(h, "fuzz.gguf");
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  std::vector<float> out;  // [elements] f32
  for (const duo::GgufTensorInfo& t : h.tensors) {
    if (!duo::typeTraits(t.type).dequantizable || t.elements > (1 << 20)) continue;
    out.resize(static_cast<size_t>(t.elements));
    duo::dequantize(static_cast<duo::GgmlType>(t.type), data + h.dataOffset + t.offset, out.data(), t.elements);
  }
  return 0;
}
