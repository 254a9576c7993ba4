// SPDX-License-Identifier: GPL-3.0-or-later
// Text sources for calibration and evaluation. Torch-free. The built-in corpora are derived at
// set-up (scripts/setup.sh) from Debian packages into <cache>/corpus and checked against the
// manifest written with them (docs/corpus.md):
//   "kjv:calib"  Genesis..Malachi of the King James Bible
//   "kjv:eval"   Matthew..Revelation
//   "mix:calib"  English of six kinds, the same number of bytes of each, interleaved in chunks of
//                ~1 KiB: dictionary articles (gcide), man pages (manpages), a system administration
//                book (debref), fortunes, the Jargon File (jargon) and the KJV (its Old Testament)
//   "mix:eval"   the held-out counterpart, built the same way from other documents (a dictionary
//                article, a page, a section, a fortune, an entry, a book: each lies whole in one
//                split); an evaluation line that a calibration file also has is dropped
//   "mix:calib:DOMAIN", "mix:eval:DOMAIN"  one domain's whole split, DOMAIN one of mixDomains()
//   "mix:calib:without-DOMAIN"  mix:calib less one domain's chunks (the other five, in the same
//                order): calibration with one kind of text held out for evaluation
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
#include <vector>

namespace duo {

struct CorpusText {
  std::string name;  // the source as given, e.g. "kjv:eval"
  std::string path;  // the file read
  std::string text;
  bool prependBos = false;  // wikitext2: tokenize with the tokenizer's BOS first (if it adds one)
};

// Throws duo::Error naming the source: "auto" (a job resolves it against its model first,
// resolveCalibSource / resolveEvalSource), unknown kjv/mix split or mix domain, missing cache (with the
// set-up command), missing file, JSONL line without a string "text" field (with its line number),
// size mismatch against the kjv manifest, size or SHA-256 mismatch against the mix manifest.
CorpusText loadCorpus(const std::string& source);

// What a --calib / --corpus option accepts, for the CLI's help.
inline constexpr const char* kCorpusSourcesHelp =
    "kjv:calib | kjv:eval | mix:calib | mix:eval | mix:calib:DOMAIN | mix:eval:DOMAIN | mix:calib:without-DOMAIN | "
    "FILE.txt | FILE.jsonl | "
    "wikitext2:PATH (docs/corpus.md)";
// The same for the options of a job that has a model (prune, eval, sensitivity, inspect), where
// "auto" (the default) is the model's own corpus: core/data/default_corpora.h.
inline constexpr const char* kModelCorpusSourcesHelp =
    "auto (the model's default: the corpus its training.json names, else mix:calib / mix:eval) | "
    "kjv:calib | kjv:eval | mix:calib | mix:eval | mix:calib:DOMAIN | mix:eval:DOMAIN | mix:calib:without-DOMAIN | "
    "FILE.txt | FILE.jsonl | "
    "wikitext2:PATH (docs/corpus.md)";

// The cached kjv file for a split ("calib" or "eval").
std::string kjvPath(const std::string& split);

// The mix's domains in their order: gcide, manpages, debref, fortunes, jargon, kjv.
const std::vector<std::string>& mixDomains();
// The cached mix file for a split ("calib" or "eval") and a domain ("" for the mix itself,
// "without-DOMAIN" for the calibration mix less one domain), and the manifest (mix.json) holding
// every file's size and SHA-256.
std::string mixPath(const std::string& split, const std::string& domain = "");
std::string mixManifestPath();

}  // namespace duo
