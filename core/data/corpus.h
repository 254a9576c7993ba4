// Text sources for calibration and evaluation. Torch-free.
//   "kjv:calib"  Genesis..Malachi of the King James Bible (derived at set-up into the cache)
//   "kjv:eval"   Matthew..Revelation
//   PATH.txt     any UTF-8 text file, used as is
//   PATH.jsonl   one JSON object per line; the "text" fields joined with "\n"
#pragma once
#include <cstdint>
#include <string>

namespace duo {

struct CorpusText {
  std::string name;  // the source as given, e.g. "kjv:eval"
  std::string path;  // the file read
  std::string text;
};

// Throws duo::Error naming the source: unknown kjv split, missing cache (with the set-up command),
// missing file, JSONL line without a string "text" field (with its line number), size mismatch
// against the kjv manifest.
CorpusText loadCorpus(const std::string& source);

// The cached kjv file for a split ("calib" or "eval").
std::string kjvPath(const std::string& split);

}  // namespace duo
