// SPDX-License-Identifier: GPL-3.0-or-later
// Multiple-choice tasks (lm-eval-harness style) as JSONL, one item a line. DuoScope's own layout:
//   {"context": "In the beginning God", "choices": [" created", " saw", ...], "gold": 0}
// (optionally "contexts": one context per choice, lm-eval's partial scoring). Other keys on a line
// are ignored (room for ids or sources). Also lm-eval-harness' datasets as JSONL (hellaswag, piqa,
// arc, winogrande, boolq: lm_eval_tasks.h), converted as its task configs do. Torch-free: the
// window lists tasks.
#pragma once
#include <string>
#include <vector>

namespace duo {

struct McItem {
  std::string context;               // the text the model is conditioned on
  std::vector<std::string> choices;  // continuations; each scored given the context (>= 2)
  int gold = 0;                      // index of the correct continuation
  // One context per choice (WinoGrande's partial scoring: the option is in the context and every
  // choice is the same continuation); empty: `context` for every choice.
  std::vector<std::string> contexts;
  const std::string& contextOf(size_t choice) const { return contexts.empty() ? context : contexts[choice]; }
};

// Task file layouts loadMcTask reads.
inline constexpr const char* kMcTaskFormats = "auto, duoscope, hellaswag, piqa, arc, winogrande, boolq";

struct McTask {
  std::string name;  // file stem ("kjv-cloze" for kjv-cloze.jsonl), what run records cite
  std::string path;  // the file read ("" for a task built in memory)
  std::string format = "duoscope";  // the layout it was read from
  std::vector<McItem> items;
};

// Reads a JSONL task in `format` (kMcTaskFormats; "auto": from the first line's keys, refused
// when ambiguous). Throws duo::Error naming "FILE:LINE" and the fault: not JSON, not an object,
// missing/mistyped context, choices (an array of >= 2 non-empty strings) or gold (a whole number
// inside the choices), a row that does not fit the layout, and a file with no items.
McTask loadMcTask(const std::string& path, const std::string& format = "auto");
// The same on JSONL text already read; `path` names it in errors and gives the task's name.
McTask parseMcTask(const std::string& text, const std::string& path, const std::string& format = "auto");

// The JSONL text of a task (keys in the order context, choices, gold; "\n" after every line).
std::string mcTaskJsonl(const McTask& task);
// Atomic write of mcTaskJsonl.
void saveMcTask(const std::string& path, const McTask& task);

}  // namespace duo
