// SPDX-License-Identifier: GPL-3.0-or-later
// The calibration and evaluation corpora a model gets when the user names none ("auto"): the
// corpus a model trained by DuoScope was trained on and its held-out split (its training.json, as
// the bundled tiny model has: kjv:calib and kjv:eval), and the broad mix (mix:calib, mix:eval)
// for every other model. The cross-domain study (docs/results.md, "Outside the calibration text")
// chose the mix: after it DuoGPT's damage is 0.83-0.90x SparseGPT's on every kind of text, kinds it
// never saw included, where calibration on the KJV alone leaves 0.94-0.95x outside the KJV. A model
// trained on one text is evaluated on that text's held-out part, as it was trained to predict it.
// Torch-free.
#pragma once
#include <string>

namespace duo {

// The value every corpus option takes to mean "the model's default" (also the empty string).
inline constexpr const char* kAutoCorpus = "auto";

struct DefaultCorpora {
  std::string calib = "mix:calib";
  std::string eval = "mix:eval";
  // Why, for messages: "the corpus its training.json names" or "the broad mix: the model has no
  // training.json".
  std::string reason;
};

// The defaults of the model at `modelPath` (an HF folder or a GGUF file, resolved): the folder's
// training.json ("options.corpus", "heldout.corpus") when it has one, else the mix. Throws
// duo::Error naming training.json when it exists but is not valid JSON or names no corpus.
DefaultCorpora defaultCorpora(const std::string& modelPath);

bool isAutoCorpus(const std::string& source);

// `source` itself, or the model's default calibration / evaluation corpus when it is "auto" or "".
std::string resolveCalibSource(const std::string& source, const std::string& modelPath);
std::string resolveEvalSource(const std::string& source, const std::string& modelPath);

}  // namespace duo
