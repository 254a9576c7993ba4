// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: SentencePiece tokenizer.model parsing (duo::spmTokenizerSpecFromBytes), then,
// when accepted, building the tokenizer and encoding / decoding a fixed text.
#include <cstdint>
#include <string>

#include "core/common/error.h"
#include "fuzz_common.h"
#include "core/model/tokenizer/tokenizer.h"
#include "core/model/tokenizer/tokenizer_spm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto tok = duo::Tokenizer::fromSpec(duo::spmTokenizerSpecFromBytes(bytes, "fuzz/tokenizer.model"));
    const auto ids = tok->encode("In the beginning, 123 ünïcödé 🙏\n\t<s>", true);
    tok->decode(ids, false);
  } catch (const duo::Error& e) {
    duo::fuzz::note(e);
  }
  return 0;
}
