// Text sources for calibration and evaluation. Torch-free.
//   "kjv:calib"  Genesis..Malachi of the King James Bible (derived at set-up into the cache)
//   "kjv:eval"   Matthew..Revelation
//   PATH.txt     any UTF-8 text file, used as is
//   PATH.jsonl   one JSON object per line; the "text" fields joined with "\n"
//   wikitext2:PATH  WikiText-2 as SparseGPT/GPTQ evaluate it: the rows of the split joined with
//                "\n\n" and tokenized with the tokenizer's BOS in front when it adds one (their
//                `tokenizer("\n\n".join(testdata["text"]))`). PATH is the raw file of
//                wikitext-2-raw-v1 (wiki.test.raw: one row per line, a whitespace-only line an
//                empty row, as the HF `wikitext` dataset builds them) or a JSONL export of the
//                dataset's rows ({"text": ...} a line, empty rows kept).
#pragma once
#include <cstdint>
#include <string>

namespace duo {

struct CorpusText {
  std::string name;  // the source as given, e.g. "kjv:eval"
  std::string path;  // the file read
  std::string text;
  bool prependBos = false;  // wikitext2: tokenize with the tokenizer's BOS first (if it adds one)
};

// Throws duo::Error naming the source: unknown kjv split, missing cache (with the set-up command),
// missing file, JSONL line without a string "text" field (with its line number), size mismatch
// against the kjv manifest.
CorpusText loadCorpus(const std::string& source);

// The cached kjv file for a split ("calib" or "eval").
std::string kjvPath(const std::string& split);

}  // namespace duo
