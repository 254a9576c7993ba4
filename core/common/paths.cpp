// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/common/paths.h"

#include <cstdlib>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/version.h"

namespace fs = std::filesystem;

namespace duo {

namespace {
std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}
}  // namespace

std::string cacheDir() {
  if (const char* d = std::getenv("DUO_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/duoscope";
  return envOr("HOME", "/tmp") + "/.cache/duoscope";
}

std::string resourcesDir() { return envOr("DUO_RESOURCES_DIR", kSourceResourcesDir); }

std::string resolveModelPath(const std::string& nameOrPath) {
  if (nameOrPath == "tiny") {
    std::string p = resourcesDir() + "/models/duo-tiny-kjv";
    DUO_CHECK(fs::exists(p), "bundled model 'tiny' not found at ", p,
              " (set DUO_RESOURCES_DIR to the folder holding models/)");
    return p;
  }
  if (nameOrPath == "smollm2") {
    std::string p = cacheDir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    DUO_CHECK(fs::exists(p), "model 'smollm2' not found at ", p,
              " (run scripts/fetch-smollm2.sh once to cache it)");
    return p;
  }
  return nameOrPath;
}

}  // namespace duo
