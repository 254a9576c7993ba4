// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/lm_eval_tasks.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/common/error.h"

namespace duo {

namespace {

bool has(const nlohmann::json& j, const char* key) { return j.is_object() && j.contains(key) && !j[key].is_null(); }

std::string str(const nlohmann::json& j, const char* key, const std::string& where) {
  DUO_CHECK(has(j, key) && j[key].is_string(), where, ": missing string field \"", key, "\"");
  return j[key].get<std::string>();
}

// A label given as a whole number or as its decimal text ("3"), as the datasets store it.
int64_t label(const nlohmann::json& j, const char* key, const std::string& where) {
  DUO_CHECK(has(j, key), where, ": no \"", key, "\" (a test split without labels cannot be scored)");
  const nlohmann::json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    DUO_CHECK(!s.empty(), where, ": \"", key, "\" is empty (a test split without labels cannot be scored)");
    DUO_CHECK(std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) && s.size() < 9, where,
              ": \"", key, "\" = \"", s, "\" is not a whole number");
    return std::stoll(s);
  }
  fail(where, ": \"", key, "\" is ", v.dump(), ", expected a whole number");
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string replaceAll(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (true) {
    const size_t k = s.find(from, i);
    if (k == std::string::npos) break;
    out += s.substr(i, k - i) + to;
    i = k + from.size();
  }
  return out + s.substr(i);
}

// Python's str.capitalize() on ASCII: first letter upper, the rest lower (other bytes as they are).
std::string capitalize(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) s[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return s;
}

void checkGold(McItem& item, int64_t gold, const std::string& where) {
  DUO_CHECK(gold >= 0 && gold < static_cast<int64_t>(item.choices.size()), where, ": label ", gold,
            " is not a choice index in [0, ", item.choices.size(), ")");
  item.gold = static_cast<int>(gold);
}

McItem hellaswag(const nlohmann::json& j, const std::string& where) {
  McItem item;
  const std::string ctx = str(j, "ctx_a", where) + " " + capitalize(str(j, "ctx_b", where));
  item.context = hellaswagPreprocess(str(j, "activity_label", where) + ": " + ctx);
  DUO_CHECK(has(j, "endings") && j["endings"].is_array() && j["endings"].size() >= 2, where,
            ": \"endings\" must be an array of at least 2 strings");
  for (const auto& e : j["endings"]) {
    DUO_CHECK(e.is_string(), where, ": an ending is ", e.dump(), ", expected a string");
    item.choices.push_back(" " + hellaswagPreprocess(e.get<std::string>()));
  }
  checkGold(item, label(j, "label", where), where);
  return item;
}

McItem piqa(const nlohmann::json& j, const std::string& where) {
  McItem item;
  item.context = "Question: " + str(j, "goal", where) + "\nAnswer:";
  item.choices = {" " + str(j, "sol1", where), " " + str(j, "sol2", where)};
  checkGold(item, label(j, "label", where), where);
  return item;
}

McItem arc(const nlohmann::json& j, const std::string& where) {
  McItem item;
  std::vector<std::string> texts, labels;
  if (has(j, "question") && j["question"].is_object()) {  // original ARC: {question: {stem, choices: [...]}}
    const nlohmann::json& q = j["question"];
    item.context = "Question: " + str(q, "stem", where) + "\nAnswer:";
    DUO_CHECK(has(q, "choices") && q["choices"].is_array(), where, ": missing array field \"question.choices\"");
    for (const auto& c : q["choices"]) {
      texts.push_back(str(c, "text", where));
      labels.push_back(str(c, "label", where));
    }
  } else {  // ai2_arc: {question, choices: {text: [...], label: [...]}}
    item.context = "Question: " + str(j, "question", where) + "\nAnswer:";
    DUO_CHECK(has(j, "choices") && j["choices"].is_object() && has(j["choices"], "text") && has(j["choices"], "label") &&
                  j["choices"]["text"].is_array() && j["choices"]["label"].is_array() &&
                  j["choices"]["text"].size() == j["choices"]["label"].size(),
              where, ": \"choices\" must be {\"text\": [...], \"label\": [...]} of equal length");
    for (size_t i = 0; i < j["choices"]["text"].size(); ++i) {
      DUO_CHECK(j["choices"]["text"][i].is_string() && j["choices"]["label"][i].is_string(), where,
                ": choices.text[", i, "] and choices.label[", i, "] must be strings");
      texts.push_back(j["choices"]["text"][i].get<std::string>());
      labels.push_back(j["choices"]["label"][i].get<std::string>());
    }
  }
  DUO_CHECK(texts.size() >= 2, where, ": ", texts.size(), " choices, expected at least 2");
  for (const std::string& t : texts) item.choices.push_back(" " + t);
  const std::string key = str(j, "answerKey", where);
  const auto it = std::find(labels.begin(), labels.end(), key);
  DUO_CHECK(it != labels.end(), where, ": answerKey \"", key, "\" is not one of the choices' labels");
  item.gold = static_cast<int>(it - labels.begin());
  return item;
}

McItem winogrande(const nlohmann::json& j, const std::string& where) {
  McItem item;
  const std::string sentence = str(j, "sentence", where);
  const size_t blank = sentence.find('_');
  DUO_CHECK(blank != std::string::npos, where, ": \"sentence\" has no \"_\" blank");
  const std::string rest = " " + strip(sentence.substr(blank + 1));
  for (const char* key : {"option1", "option2"}) {
    item.contexts.push_back(sentence.substr(0, blank) + str(j, key, where));
    item.choices.push_back(rest);
  }
  item.context = item.contexts[0];
  const int64_t answer = label(j, "answer", where);  // checked before "- 1": INT64_MIN - 1 overflows
  DUO_CHECK(answer == 1 || answer == 2, where, ": answer ", answer, " is not 1 or 2 (option1, option2)");
  checkGold(item, answer - 1, where);
  return item;
}

McItem boolq(const nlohmann::json& j, const std::string& where) {
  McItem item;
  item.context = str(j, "passage", where) + "\nQuestion: " + str(j, "question", where) + "?\nAnswer:";
  item.choices = {" no", " yes"};
  checkGold(item, label(j, has(j, "label") ? "label" : "answer", where), where);
  return item;
}

}  // namespace

std::string hellaswagPreprocess(const std::string& text) {
  std::string s = replaceAll(strip(text), " [title]", ". ");
  std::string out;  // drop "[...]" spans that do not cross a line (Python's re "\[.*?\]")
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') {
      const size_t close = s.find(']', i + 1);
      const size_t newline = s.find('\n', i + 1);
      if (close != std::string::npos && (newline == std::string::npos || newline > close)) {
        i = close;
        continue;
      }
    }
    out += s[i];
  }
  return replaceAll(out, "  ", " ");
}

std::string detectMcTaskFormat(const nlohmann::json& row, const std::string& where) {
  DUO_CHECK(row.is_object(), where, ": expected an object (a dataset row, or {\"context\": str, \"choices\": [str, ...], "
            "\"gold\": int})");
  std::vector<std::string> fits;
  if (has(row, "context") && has(row, "choices") && has(row, "gold")) fits.push_back("duoscope");
  if (has(row, "ctx_a") && has(row, "endings")) fits.push_back("hellaswag");
  if (has(row, "goal") && has(row, "sol1") && has(row, "sol2")) fits.push_back("piqa");
  if (has(row, "question") && has(row, "answerKey")) fits.push_back("arc");
  if (has(row, "sentence") && has(row, "option1") && has(row, "option2")) fits.push_back("winogrande");
  if (has(row, "passage") && has(row, "question")) fits.push_back("boolq");
  // Some of our own keys and no other layout: ours, so that the missing field is named.
  if (fits.empty() && (has(row, "context") || has(row, "choices") || has(row, "gold"))) return "duoscope";
  std::string keys;
  for (const auto& [k, v] : row.items()) keys += (keys.empty() ? "" : ", ") + k;
  DUO_CHECK(!fits.empty(), where, ": the keys {", keys, "} fit no task layout we read (", kMcTaskFormats,
            "); see docs/cli.md");
  if (fits.size() > 1) {
    std::string names;
    for (const auto& f : fits) names += (names.empty() ? "" : " and ") + f;
    fail(where, ": the keys {", keys, "} fit both ", names, ": say which with --task-format");
  }
  return fits.front();
}

McItem lmEvalItem(const std::string& format, const nlohmann::json& row, const std::string& where) {
  DUO_CHECK(row.is_object(), where, ": expected a JSON object (a ", format, " row)");
  if (format == "hellaswag") return hellaswag(row, where);
  if (format == "piqa") return piqa(row, where);
  if (format == "arc") return arc(row, where);
  if (format == "winogrande") return winogrande(row, where);
  if (format == "boolq") return boolq(row, where);
  fail(where, ": task format '", format, "' is not one of ", kMcTaskFormats);
}

}  // namespace duo
