// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/corpus.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/data/domains.h"
#include "core/common/paths.h"
#include "core/common/sha256.h"

namespace fs = std::filesystem;

namespace duo {

std::string kjvPath(const std::string& split) { return cacheDir() + "/corpus/kjv-" + split + ".txt"; }

const std::vector<std::string>& mixDomains() { return mixDomainNames(); }

std::string mixPath(const std::string& split, const std::string& domain) {
  return cacheDir() + "/corpus/mix-" + (domain.empty() ? "" : domain + "-") + split + ".txt";
}

std::string mixManifestPath() { return cacheDir() + "/corpus/mix.json"; }

namespace {
std::string loadKjv(const std::string& source, const std::string& split) {
  DUO_CHECK(split == "calib" || split == "eval", "corpus '", source, "': unknown split '", split,
            "' (expected kjv:calib or kjv:eval)");
  const std::string path = kjvPath(split);
  DUO_CHECK(fs::exists(path), "corpus '", source, "': ", path, " not found; run scripts/setup.sh once to derive it from Debian's bible-kjv");
  std::string text = readFile(path);
  const std::string manifestPath = cacheDir() + "/corpus/kjv.json";
  if (fs::exists(manifestPath)) {
    const auto manifest = nlohmann::json::parse(readFile(manifestPath), nullptr, false);
    if (!manifest.is_discarded() && manifest.contains("splits") && manifest["splits"].contains(split)) {
      const auto expected = manifest["splits"][split].value("bytes", static_cast<int64_t>(-1));
      DUO_CHECK(expected < 0 || expected == static_cast<int64_t>(text.size()), "corpus '", source, "': ", path, " has ",
                text.size(), " bytes, the manifest ", manifestPath, " says ", expected, "; re-run scripts/setup.sh");
    }
  }
  return text;
}

constexpr const char* kMixSetup =
    "run scripts/setup.sh once to derive it from Debian's dict-gcide, manpages, debian-reference-en, fortunes, "
    "jargon-text and bible-kjv";

// "mix:SPLIT" or "mix:SPLIT:DOMAIN", checked against the manifest: size, then SHA-256.
CorpusText loadMix(const std::string& source) {
  const std::string rest = source.substr(4);
  const size_t colon = rest.find(':');
  const std::string split = rest.substr(0, colon);
  const std::string domain = colon == std::string::npos ? "" : rest.substr(colon + 1);
  DUO_CHECK(split == "calib" || split == "eval", "corpus '", source, "': unknown split '", split,
            "' (expected mix:calib, mix:eval, mix:calib:DOMAIN, mix:eval:DOMAIN or mix:calib:without-DOMAIN)");
  if (colon != std::string::npos) {
    const bool without = domain.rfind(kMixWithout, 0) == 0;
    DUO_CHECK(!without || split == "calib", "corpus '", source, "': a mix without a domain is a calibration corpus (",
              "mix:calib:", domain, ")");
    const std::string named = without ? domain.substr(std::string(kMixWithout).size()) : domain;
    const auto& ds = mixDomains();
    if (std::find(ds.begin(), ds.end(), named) == ds.end()) {
      std::string names;
      for (const auto& d : ds) names += (names.empty() ? "" : ", ") + d;
      fail("corpus '", source, "': unknown domain '", named, "' (expected one of ", names, ")");
    }
  }
  CorpusText c;
  c.name = source;
  c.path = mixPath(split, domain);
  const std::string manifestPath = mixManifestPath();
  DUO_CHECK(fs::exists(c.path), "corpus '", source, "': ", c.path, " not found; ", kMixSetup);
  DUO_CHECK(fs::exists(manifestPath), "corpus '", source, "': the manifest ", manifestPath, " not found; ", kMixSetup);
  const auto manifest = nlohmann::json::parse(readFile(manifestPath), nullptr, false);
  const std::string file = fs::path(c.path).filename().string();
  const bool listed = !manifest.is_discarded() && manifest.contains("files") && manifest["files"].contains(file) &&
                      manifest["files"][file].is_object();
  DUO_CHECK(listed, "corpus '", source, "': the manifest ", manifestPath, " does not list ", file,
            "; re-run scripts/setup.sh");
  const auto& entry = manifest["files"][file];
  c.text = readFile(c.path);
  const int64_t bytes =
      entry.contains("bytes") && entry["bytes"].is_number_integer() ? entry["bytes"].get<int64_t>() : -1;
  DUO_CHECK(bytes == static_cast<int64_t>(c.text.size()), "corpus '", source, "': ", c.path, " has ", c.text.size(),
            " bytes, the manifest ", manifestPath, " says ", bytes, "; re-run scripts/setup.sh");
  const std::string want = entry.contains("sha256") && entry["sha256"].is_string() ? entry["sha256"].get<std::string>()
                                                                                    : std::string("(none)");
  const std::string sha = sha256Hex(c.text);
  DUO_CHECK(sha == want, "corpus '", source, "': ", c.path, " has SHA-256 ", sha, ", the manifest ", manifestPath,
            " says ", want, "; re-run scripts/setup.sh");
  return c;
}

std::string loadJsonl(const std::string& path) {
  std::istringstream in(readFile(path));
  std::string line, out;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    DUO_CHECK(!j.is_discarded(), path, ":", lineNo, ": not valid JSON");
    DUO_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), path, ":", lineNo,
              ": expected an object with a string field \"text\"");
    if (!out.empty()) out += "\n";
    out += j["text"].get<std::string>();
  }
  DUO_CHECK(!out.empty(), path, ": no \"text\" lines found");
  return out;
}
// WikiText-2's rows (see corpus.h) joined with "\n\n".
std::string loadWikitext2(const std::string& source, const std::string& path) {
  DUO_CHECK(!path.empty(), "corpus '", source, "': give the file after wikitext2: (wiki.test.raw or a JSONL of the rows)");
  const std::string raw = readFile(path);
  std::vector<std::string> rows;
  const bool jsonl = path.size() > 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
  std::istringstream in(raw);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (jsonl) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      DUO_CHECK(!j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string(), path, ":", lineNo,
                ": expected an object with a string field \"text\"");
      rows.push_back(j["text"].get<std::string>());
    } else {
      const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
      rows.push_back(blank ? std::string() : line + "\n");
    }
  }
  DUO_CHECK(!rows.empty(), path, ": no rows");
  std::string text;
  for (size_t i = 0; i < rows.size(); ++i) text += (i ? "\n\n" : "") + rows[i];
  return text;
}
}  // namespace

CorpusText loadCorpus(const std::string& source) {
  DUO_CHECK(!source.empty() && source != "auto", "corpus '", source,
            "': 'auto' means the model's default corpus and needs a model (prune, eval, sensitivity, inspect); "
            "name a corpus here (", kCorpusSourcesHelp, ")");
  CorpusText c;
  c.name = source;
  if (source.rfind("wikitext2:", 0) == 0) {
    c.path = source.substr(10);
    c.text = loadWikitext2(source, c.path);
    c.prependBos = true;
  } else if (source.rfind("mix:", 0) == 0) {
    c = loadMix(source);
  } else if (source.rfind("kjv:", 0) == 0) {
    c.path = kjvPath(source.substr(4));
    c.text = loadKjv(source, source.substr(4));
  } else if (source.size() > 6 && source.compare(source.size() - 6, 6, ".jsonl") == 0) {
    c.path = source;
    c.text = loadJsonl(source);
  } else {
    c.path = source;
    c.text = readFile(source);
    DUO_CHECK(!c.text.empty(), source, ": file is empty");
  }
  return c;
}

}  // namespace duo
