// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/default_corpora.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/json_file.h"

namespace duo {

namespace {

std::string corpusAt(const nlohmann::json& j, const char* object, const std::string& file) {
  const auto o = j.find(object);
  DUO_CHECK(o != j.end() && o->is_object() && o->contains("corpus") && (*o)["corpus"].is_string() &&
                !(*o)["corpus"].get<std::string>().empty(),
            file, ": expected \"", object, "\": {\"corpus\": \"...\"} (the corpus the model was trained on and "
            "its held-out split)");
  return (*o)["corpus"].get<std::string>();
}

}  // namespace

DefaultCorpora defaultCorpora(const std::string& modelPath) {
  DefaultCorpora d;
  d.reason = "the broad mix: the model has no training.json";
  std::error_code ec;
  if (modelPath.empty() || !std::filesystem::is_directory(modelPath, ec)) return d;
  const std::string file = (std::filesystem::path(modelPath) / "training.json").string();
  if (!std::filesystem::exists(file, ec)) return d;
  const nlohmann::json j = readJsonFile(file);
  DUO_CHECK(j.is_object(), file, ": expected a JSON object");
  d.calib = corpusAt(j, "options", file);
  d.eval = corpusAt(j, "heldout", file);
  d.reason = "the corpus its training.json names";
  return d;
}

bool isAutoCorpus(const std::string& source) { return source.empty() || source == kAutoCorpus; }

std::string resolveCalibSource(const std::string& source, const std::string& modelPath) {
  return isAutoCorpus(source) ? defaultCorpora(modelPath).calib : source;
}

std::string resolveEvalSource(const std::string& source, const std::string& modelPath) {
  return isAutoCorpus(source) ? defaultCorpora(modelPath).eval : source;
}

}  // namespace duo
