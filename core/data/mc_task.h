// Multiple-choice tasks (lm-eval-harness style) as JSONL, one item a line:
//   {"context": "In the beginning God", "choices": [" created", " saw", ...], "gold": 0}
// Other keys on a line are ignored (room for ids or sources). Torch-free: the window lists tasks.
#pragma once
#include <string>
#include <vector>

namespace duo {

struct McItem {
  std::string context;               // the text the model is conditioned on
  std::vector<std::string> choices;  // continuations; each scored given the context (>= 2)
  int gold = 0;                      // index of the correct continuation
};

struct McTask {
  std::string name;  // file stem ("kjv-cloze" for kjv-cloze.jsonl), what run records cite
  std::string path;  // the file read ("" for a task built in memory)
  std::vector<McItem> items;
};

// Reads a JSONL task. Throws duo::Error naming "FILE:LINE" and the fault: not JSON, not an object,
// missing/mistyped context, choices (an array of >= 2 non-empty strings) or gold (a whole number
// inside the choices), and a file with no items.
McTask loadMcTask(const std::string& path);

// The JSONL text of a task (keys in the order context, choices, gold; "\n" after every line).
std::string mcTaskJsonl(const McTask& task);
// Atomic write of mcTaskJsonl.
void saveMcTask(const std::string& path, const McTask& task);

}  // namespace duo
