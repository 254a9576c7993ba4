// SPDX-License-Identifier: GPL-3.0-or-later
// JSON text and files parsed with one message for malformed input: "<source>: not valid JSON: ...".
// Torch-free.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace duo {

// Parses `text`; throws duo::Error "<source>: not valid JSON: <the parser's message>".
nlohmann::json parseJson(const std::string& text, const std::string& source);

// Reads and parses the file at `path`; throws duo::Error naming the path when it is missing,
// unreadable or not valid JSON.
nlohmann::json readJsonFile(const std::string& path);

}  // namespace duo
