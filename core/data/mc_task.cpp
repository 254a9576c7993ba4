// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/mc_task.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/data/lm_eval_tasks.h"

namespace duo {

namespace {
McItem parseItem(const nlohmann::json& j, const std::string& where) {
  DUO_CHECK(j.is_object(), where, ": expected an object {\"context\": str, \"choices\": [str, ...], \"gold\": int}");
  McItem item;
  DUO_CHECK(j.contains("context") && j["context"].is_string(), where, ": missing string field \"context\"");
  item.context = j["context"].get<std::string>();
  DUO_CHECK(j.contains("choices") && j["choices"].is_array(), where, ": missing array field \"choices\"");
  const auto& choices = j["choices"];
  DUO_CHECK(choices.size() >= 2, where, ": \"choices\" has ", choices.size(), " entries, expected at least 2");
  for (size_t c = 0; c < choices.size(); ++c) {
    DUO_CHECK(choices[c].is_string(), where, ": choices[", c, "] is ", choices[c].dump(), ", expected a string");
    DUO_CHECK(!choices[c].get<std::string>().empty(), where, ": choices[", c, "] is empty");
    item.choices.push_back(choices[c].get<std::string>());
  }
  DUO_CHECK(j.contains("gold") && j["gold"].is_number_integer(), where, ": missing whole-number field \"gold\"");
  const auto gold = j["gold"].get<int64_t>();
  DUO_CHECK(gold >= 0 && gold < static_cast<int64_t>(item.choices.size()), where, ": gold ", gold,
            " is not a choice index in [0, ", item.choices.size(), ")");
  item.gold = static_cast<int>(gold);
  if (j.contains("contexts")) {
    DUO_CHECK(j["contexts"].is_array() && j["contexts"].size() == item.choices.size(), where,
              ": \"contexts\" must be an array of one string per choice");
    for (const auto& c : j["contexts"]) {
      DUO_CHECK(c.is_string(), where, ": a context is ", c.dump(), ", expected a string");
      item.contexts.push_back(c.get<std::string>());
    }
  }
  return item;
}
}  // namespace

McTask loadMcTask(const std::string& path, const std::string& format) {
  return parseMcTask(readFile(path), path, format);
}

McTask parseMcTask(const std::string& text, const std::string& path, const std::string& format) {
  const std::vector<std::string> known = {"auto", "duoscope", "hellaswag", "piqa", "arc", "winogrande", "boolq"};
  DUO_CHECK(std::find(known.begin(), known.end(), format) != known.end(), "--task-format '", format,
            "' is not one of ", kMcTaskFormats);
  McTask task;
  task.path = path;
  task.name = std::filesystem::path(path).stem().string();
  task.format = format;
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(lineNo);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number like 1E400
      fail(where, ": not valid JSON (", e.what(), ")");
    }
    if (task.format == "auto") task.format = detectMcTaskFormat(j, where);
    task.items.push_back(task.format == "duoscope" ? parseItem(j, where) : lmEvalItem(task.format, j, where));
  }
  DUO_CHECK(!task.items.empty(), path, ": no items (expected one JSON object per line)");
  return task;
}

std::string mcTaskJsonl(const McTask& task) {
  std::string out;
  for (const McItem& item : task.items) {
    nlohmann::ordered_json j;
    j["context"] = item.context;
    j["choices"] = item.choices;
    j["gold"] = item.gold;
    if (!item.contexts.empty()) j["contexts"] = item.contexts;
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

void saveMcTask(const std::string& path, const McTask& task) { writeFileAtomic(path, mcTaskJsonl(task)); }

}  // namespace duo
