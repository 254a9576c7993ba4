// SPDX-License-Identifier: GPL-3.0-or-later
// Replays fuzz inputs through a fuzz target without libFuzzer, so that every build (gcc, no
// sanitizers needed) runs the committed corpora and the regression inputs as CTest tests:
//   replay_<target> PATH...   (files, or folders read recursively, in name order)
// Each input goes through the target's LLVMFuzzerTestOneInput. duo::Error is how a parser rejects
// an input, so one escaping is counted, not failed; any other exception fails the run naming the
// file, and a crash (signal) names the file before the process dies of it. No input at all is a
// failure too: a missing corpus must not pass as an empty one.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// The input being replayed, for the signal handler (which may only write(2) it).
char g_current[4096] = "";

void onCrash(int sig) {
  const char head[] = "\nreplay: CRASH (signal) while replaying ";
  (void)!write(STDERR_FILENO, head, sizeof head - 1);
  (void)!write(STDERR_FILENO, g_current, std::strlen(g_current));
  (void)!write(STDERR_FILENO, "\n", 1);
  std::signal(sig, SIG_DFL);  // die of the same signal: CTest reports it
  std::raise(sig);
}

std::vector<uint8_t> readBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string target = fs::path(argv[0]).filename().string();
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", target.c_str());
    return 2;
  }
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL}) std::signal(sig, onCrash);

  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path root = argv[i];
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) {
      inputs.push_back(root);
    } else if (fs::is_directory(root, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      inputs.insert(inputs.end(), found.begin(), found.end());
    } else {
      std::fprintf(stderr, "%s: %s is neither a file nor a folder\n", target.c_str(), root.c_str());
      return 1;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "%s: no inputs found\n", target.c_str());
    return 1;
  }

  size_t rejected = 0;
  for (const fs::path& p : inputs) {
    std::snprintf(g_current, sizeof g_current, "%s", p.c_str());
    try {
      const std::vector<uint8_t> bytes = readBytes(p);
      // [size] u8; never null, like libFuzzer's buffers
      LLVMFuzzerTestOneInput(bytes.empty() ? reinterpret_cast<const uint8_t*>("") : bytes.data(), bytes.size());
    } catch (const duo::Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: FAILED on %s: uncaught exception (not duo::Error): %s\n", target.c_str(), p.c_str(),
                   e.what());
      return 1;
    } catch (...) {
      std::fprintf(stderr, "%s: FAILED on %s: uncaught non-standard exception\n", target.c_str(), p.c_str());
      return 1;
    }
  }
  std::printf("%s: %zu inputs replayed (%zu rejected with duo::Error outside the target)\n", target.c_str(),
              inputs.size(), rejected);
  return 0;
}
