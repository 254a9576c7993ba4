// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/dist/dist_settings.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "core/common/error.h"

namespace duo {

namespace {

// An integer environment variable, or `fallback` when unset or empty.
long envInt(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v, &end, 10);
  DUO_CHECK(errno == 0 && end && *end == '\0', name, "='", v, "' is not an integer");
  return n;
}

std::string envString(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

void DistSettings::validate() const {
  DUO_CHECK(worldSize >= 1, "WORLD_SIZE=", worldSize, ": the world size must be at least 1");
  DUO_CHECK(rank >= 0 && rank < worldSize, "RANK=", rank, " is outside 0..", worldSize - 1, " (WORLD_SIZE=", worldSize,
            ")");
  DUO_CHECK(localRank >= 0, "LOCAL_RANK=", localRank, " must not be negative");
  DUO_CHECK(masterPort >= 1 && masterPort <= 65535, "MASTER_PORT=", masterPort, " is not a port (1-65535)");
  DUO_CHECK(!masterAddr.empty(), "MASTER_ADDR is empty");
  DUO_CHECK(backend == "auto" || backend == "gloo" || backend == "nccl", "--dist-backend '", backend,
            "' is not auto, gloo or nccl");
  DUO_CHECK(timeoutSeconds > 0, "--dist-timeout ", timeoutSeconds, " must be positive");
  DUO_CHECK(connectSeconds > 0, "the rendezvous timeout ", connectSeconds, " must be positive");
}

nlohmann::json DistSettings::toJson() const {
  return {{"rank", rank}, {"world_size", worldSize}, {"backend", backend},
          {"master", masterAddr + ":" + std::to_string(masterPort)}};
}

bool launchedAsWorker() {
  const char* v = std::getenv("WORLD_SIZE");
  return v && *v;
}

DistSettings distSettingsFromEnv() {
  DistSettings s;
  s.worldSize = static_cast<int>(envInt("WORLD_SIZE", 1));
  s.rank = static_cast<int>(envInt("RANK", 0));
  s.localRank = static_cast<int>(envInt("LOCAL_RANK", s.rank));
  s.masterAddr = envString("MASTER_ADDR", s.masterAddr);
  s.masterPort = static_cast<int>(envInt("MASTER_PORT", s.masterPort));
  s.connectSeconds = static_cast<double>(envInt("DUO_DIST_CONNECT_TIMEOUT", 60));
  s.validate();
  return s;
}

bool distributedBuilt() {
#ifdef DUO_HAVE_C10D
  return true;
#else
  return false;
#endif
}

bool ncclBuilt() {
#ifdef DUO_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace duo
