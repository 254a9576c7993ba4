// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/json_file.h"

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace duo {

nlohmann::json parseJson(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": not valid JSON: ", e.what());
  }
}

nlohmann::json readJsonFile(const std::string& path) { return parseJson(readFile(path), path); }

}  // namespace duo
