// SPDX-License-Identifier: GPL-3.0-or-later
// lm-eval-harness' multiple-choice datasets as JSONL (one dataset row a line, the Hugging Face
// layouts lm-eval loads), turned into McItems the way lm-eval's task configs do (0-shot):
//   hellaswag   {activity_label, ctx_a, ctx_b, endings, label}: context preprocess(activity_label
//               + ": " + ctx_a + " " + capitalize(ctx_b)), choices " " + preprocess(ending)
//   piqa        {goal, sol1, sol2, label}: "Question: <goal>\nAnswer:", choices " sol1", " sol2"
//   arc         {question, choices: {text, label}, answerKey} (ai2_arc; also the original layout
//               {question: {stem, choices: [{text, label}]}, answerKey}): "Question: <q>\nAnswer:"
//   winogrande  {sentence, option1, option2, answer}: partial scoring: one context per option
//               (the sentence up to "_" with the option in), the same continuation " <rest>"
//   boolq       {passage, question, label | answer}: "<passage>\nQuestion: <question>?\nAnswer:",
//               choices " no", " yes"
// Gold comes from the row's label; rows without one (test splits) are refused. Internal header.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/data/mc_task.h"

namespace duo {

// The layout of a row by its keys: one of kMcTaskFormats' names (not "auto"). Throws
// duo::Error naming `where` when no layout or more than one fits.
std::string detectMcTaskFormat(const nlohmann::json& row, const std::string& where);

// One row of `format` (not "duoscope", not "auto") as an item. Throws duo::Error naming `where`
// and the field for a row that does not fit the layout.
McItem lmEvalItem(const std::string& format, const nlohmann::json& row, const std::string& where);

// lm-eval's HellaSwag text clean-up: strip, " [title]" -> ". ", drop "[...]" spans, "  " -> " ".
std::string hellaswagPreprocess(const std::string& text);

}  // namespace duo
