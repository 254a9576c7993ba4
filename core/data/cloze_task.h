// SPDX-License-Identifier: GPL-3.0-or-later
// A cloze multiple-choice task generated from any text (one passage a line, e.g. kjv verses):
// the context is a passage (the previous line and the first words of a line), the gold choice is
// the line's true ending, the distractors are endings of other lines with the same number of
// words (same length class), so length alone gives nothing away. Torch-free, deterministic for a
// seed on every platform (std::mt19937_64 with explicit modulo).
#pragma once
#include <cstdint>

#include "core/data/corpus.h"
#include "core/data/mc_task.h"

namespace duo {

struct ClozeOptions {
  int choices = 4;              // 1 gold + choices-1 distractors
  int items = 500;
  uint64_t seed = 0;
  int minWords = 6;             // lines shorter than this are not used as items
  int maxEndingWords = 10;      // an ending is the second half of the line, at most this many words
  bool previousLine = true;     // the context starts with the previous line (a longer passage)
};

// Throws duo::Error when the text has too few usable lines for `items` items with `choices`
// distinct choices each, or for options out of range.
McTask makeClozeTask(const CorpusText& corpus, const ClozeOptions& options);

}  // namespace duo
