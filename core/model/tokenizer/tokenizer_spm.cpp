// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePiece ModelProto reader (see tokenizer_spm.h). The fields read, by protobuf number:
//   ModelProto:      pieces = 1 (repeated SentencePiece), trainer_spec = 2, normalizer_spec = 3
//   SentencePiece:   piece = 1 (string), score = 2 (float), type = 3 (enum: 1 normal, 2 unknown,
//                    3 control, 4 user-defined, 5 unused, 6 byte)
//   TrainerSpec:     model_type = 3 (1 unigram, 2 bpe, 3 word, 4 char), unk_id = 40, bos_id = 41,
//                    eos_id = 42, pad_id = 43 (defaults 0, 1, 2, -1)
//   NormalizerSpec:  name = 1, add_dummy_prefix = 3 (default true), remove_extra_whitespaces = 4
//                    (default true)
// Everything else is skipped by wire type. Every read is bounds-checked.
#include "core/model/tokenizer/tokenizer_spm.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/common/error.h"

namespace duo {

namespace {

struct Wire {
  const std::string& b;
  const std::string& who;
  size_t pos, end;

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      DUO_CHECK(pos < end, who, ": truncated protobuf varint at byte ", pos);
      const auto c = static_cast<unsigned char>(b[pos++]);
      if (shift < 64) v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    fail(who, ": malformed protobuf varint at byte ", pos);
  }
  // fn(field, wire, varint value, [b0, b1) payload for wire types 2 and 5).
  template <class Fn>
  void each(Fn fn) {
    while (pos < end) {
      const uint64_t key = varint();
      const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
      DUO_CHECK(field > 0, who, ": malformed protobuf (field number 0 at byte ", pos, ")");
      switch (wire) {
        case 0: fn(field, wire, varint(), size_t{0}, size_t{0}); break;
        case 1:
          DUO_CHECK(end - pos >= 8, who, ": truncated protobuf at byte ", pos);
          pos += 8;
          break;
        case 2: {
          const uint64_t n = varint();
          DUO_CHECK(n <= end - pos, who, ": protobuf field ", field, " runs past the end (", n, " bytes at ", pos, ")");
          fn(field, wire, uint64_t{0}, pos, pos + n);
          pos += n;
          break;
        }
        case 5:
          DUO_CHECK(end - pos >= 4, who, ": truncated protobuf at byte ", pos);
          fn(field, wire, uint64_t{0}, pos, pos + 4);
          pos += 4;
          break;
        default: fail(who, ": not a SentencePiece model (protobuf wire type ", wire, " at byte ", pos, ")");
      }
    }
  }
};

const char* modelTypeName(int t) {
  switch (t) {
    case 1: return "Unigram";
    case 2: return "BPE";
    case 3: return "word";
    case 4: return "char";
  }
  return "unknown-type";
}

}  // namespace

TokenizerSpec spmTokenizerSpecFromBytes(const std::string& bytes, const std::string& who) {
  TokenizerSpec s;
  s.model = "llama";
  int modelType = 1;
  int64_t unk = 0, bos = 1, eos = 2, pad = -1;
  std::string normalizer = "nmt_nfkc";  // SentencePiece's default when the field is absent
  bool dummyPrefix = true, collapse = true;
  Wire top{bytes, who, 0, bytes.size()};
  top.each([&](int field, int wire, uint64_t, size_t b0, size_t b1) {
    if (wire != 2) return;
    Wire sub{bytes, who, b0, b1};
    if (field == 1) {  // one SentencePiece
      std::string piece;
      float score = 0;
      int type = 1;
      sub.each([&](int f, int w, uint64_t v, size_t s0, size_t s1) {
        if (f == 1 && w == 2) piece = bytes.substr(s0, s1 - s0);
        if (f == 2 && w == 5) std::memcpy(&score, bytes.data() + s0, 4);
        if (f == 3 && w == 0) type = static_cast<int>(v);
      });
      s.tokens.push_back(std::move(piece));
      s.scores.push_back(score);
      s.tokenTypes.push_back(type);
    } else if (field == 2) {  // TrainerSpec
      sub.each([&](int f, int w, uint64_t v, size_t, size_t) {
        if (w != 0) return;
        const auto i = static_cast<int64_t>(static_cast<int32_t>(v));  // int32, negative as 10-byte varint
        if (f == 3) modelType = static_cast<int>(v);
        if (f == 40) unk = i;
        if (f == 41) bos = i;
        if (f == 42) eos = i;
        if (f == 43) pad = i;
      });
    } else if (field == 3) {  // NormalizerSpec
      sub.each([&](int f, int w, uint64_t v, size_t s0, size_t s1) {
        if (f == 1 && w == 2) normalizer = bytes.substr(s0, s1 - s0);
        if (f == 3 && w == 0) dummyPrefix = v != 0;
        if (f == 4 && w == 0) collapse = v != 0;
      });
    }
  });
  const auto n = static_cast<int64_t>(s.tokens.size());
  DUO_CHECK(n > 0, who, ": no pieces: not a SentencePiece model");
  DUO_CHECK(modelType == 2, who, ": a SentencePiece ", modelTypeName(modelType),
            " model; DuoScope encodes BPE models only (LLaMA-2's and Mistral's tokenizer.model are BPE)");
  DUO_CHECK(normalizer == "identity" && !collapse, who, ": normalizer '", normalizer, "'",
            collapse ? " collapsing runs of whitespace" : "",
            " is not supported (only 'identity' that keeps whitespace, as LLaMA-2 uses)");
  for (const auto* id : {&unk, &bos, &eos, &pad})
    DUO_CHECK(*id >= -1 && *id < n, who, ": special token id ", *id, " outside the ", n, " pieces");
  s.unkId = unk;
  s.bosId = bos;
  s.eosId = eos;
  s.padId = pad;
  s.addBos = bos >= 0;  // HF's LlamaTokenizer default; a config.json may set other ids
  s.addSpacePrefix = dummyPrefix;
  return s;
}

TokenizerSpec spmTokenizerSpec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DUO_CHECK(in.good(), path, ": cannot open the SentencePiece model");
  std::ostringstream ss;
  ss << in.rdbuf();
  return spmTokenizerSpecFromBytes(ss.str(), path);
}

}  // namespace duo
