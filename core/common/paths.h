// SPDX-License-Identifier: GPL-3.0-or-later
// Where DuoScope finds its data: the cache (derived corpus, downloaded-at-setup models) and the
// bundled resources. Nothing here touches the network.
#pragma once
#include <string>

namespace duo {

// $DUO_CACHE_DIR, else $XDG_CACHE_HOME/duoscope, else ~/.cache/duoscope.
std::string cacheDir();

// The folder holding resources/ (models, configs): $DUO_RESOURCES_DIR, else the source tree's
// resources/ recorded at build time.
std::string resourcesDir();

// Resolves a model argument: "tiny" -> the bundled model folder, "smollm2" -> the cached SmolLM2
// GGUF; anything else is returned unchanged. Throws duo::Error naming the alias when its file is
// missing (with the command that creates it).
std::string resolveModelPath(const std::string& nameOrPath);

}  // namespace duo
