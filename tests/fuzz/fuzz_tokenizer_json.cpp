// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: tokenizer.json parsing (duo::Tokenizer::fromJsonString), then encoding a fixed
// text and the input's own first bytes, and decoding the ids back.
#include <cstdint>
#include <string>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/model/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto tok = duo::Tokenizer::fromJsonString(text, "fuzz/tokenizer.json");
    for (const std::string& s : {std::string("Hello world, 123 ünïcödé\n\t<s>"), text.substr(0, 64)}) {
      const auto ids = tok->encode(s, tok->addsBos());
      tok->decode(ids, false);
      tok->decode(ids, true);
    }
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
