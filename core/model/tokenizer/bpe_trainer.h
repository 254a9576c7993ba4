// SPDX-License-Identifier: GPL-3.0-or-later
// Byte-level BPE training for our bundled tiny model's tokenizer. Torch-free.
#pragma once
#include <memory>
#include <string>

#include "core/common/progress.h"

namespace duo {

class Tokenizer;

// Trains a byte-level BPE tokenizer on `text` (our bundled tiny model's tokenizer):
//  - ids 0 and 1 are the special tokens <|bos|> and <|eos|> (added tokens, special, also in the
//    model vocabulary); ids 2..257 are the 256 bytes in byte order (GPT-2 byte-unicode symbols);
//    ids 258.. are merges in the order they were learned;
//  - pre-tokenizer: HF ByteLevel(add_prefix_space=false, use_regex=true), i.e. the GPT-2 regex;
//    decoder ByteLevel; no BOS added by default (addsBos() == false);
//  - each step merges the most frequent adjacent pair (counted over pre-tokenised words, weighted
//    by word frequency); ties go to the smallest (left id, right id); pairs seen fewer than twice
//    are never merged, so the result may have fewer than vocabSize tokens on a tiny text.
// Deterministic. vocabSize must be in [258, 1<<20]. Reports progress per merge ("train-tokenizer");
// a false return throws duo::Cancelled.
std::unique_ptr<Tokenizer> trainByteLevelBpe(const std::string& text, int vocabSize, const ProgressFn& progress = {});

}  // namespace duo
