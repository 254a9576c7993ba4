// SPDX-License-Identifier: GPL-3.0-or-later
// Where this process sits in a data-parallel job (torch.distributed's launch contract): rank,
// world size and the rendezvous, read from the variables torchrun sets (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Torch-free value type: jobs carry it in their requests.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace duo {

struct DistSettings {
  int rank = 0;
  int worldSize = 1;                  // 1 = a single process, no process group
  int localRank = 0;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  std::string backend = "auto";       // auto (nccl on CUDA, gloo otherwise) | gloo | nccl
  double timeoutSeconds = 1800;       // a collective waiting longer than this fails (a rank hung)
  double connectSeconds = 60;         // the rendezvous gives up after this long (MASTER_ADDR unreachable)

  bool distributed() const { return worldSize > 1; }
  // Throws duo::Error naming the variable when a value is out of range (WORLD_SIZE < 1,
  // RANK >= WORLD_SIZE, a port outside 1-65535, an unknown backend, a non-positive timeout).
  void validate() const;
  nlohmann::json toJson() const;      // {"rank", "world_size", "backend", "master": "addr:port"}
};

// True when the process was started by a launcher: WORLD_SIZE is set in the environment.
bool launchedAsWorker();
// The settings from the environment (torchrun's variables; defaults for the unset ones), validated.
// A malformed number names the variable: "WORLD_SIZE='two' is not an integer".
DistSettings distSettingsFromEnv();

// Whether this build has torch.distributed (c10d with Gloo; NCCL too on a CUDA LibTorch).
bool distributedBuilt();
bool ncclBuilt();

}  // namespace duo
