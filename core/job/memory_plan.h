// SPDX-License-Identifier: GPL-3.0-or-later
// The memory a job will need, before anything runs: a formula over the model's shapes and the
// run's settings, term by term, against what the machine has free. `prune/eval/sensitivity --plan`
// print it, every job checks it before it starts, and the window shows it beside Run.
//
// The layer streamer's peak (core/model/io/weight_source.h, core/prune/calibrate.h) is the sum of
//   runtime      the process itself (LibTorch, BLAS, code), measured once;
//   embedding    the embedding table, and an untied lm_head, in the source dtype (read when needed);
//   layer        one decoder layer in f32 twice (dense and pruned copies) plus its source-dtype read;
//   streams      the calibration streams: 2 (3 for baselines with activation sparsity) x nsamples x
//                seqlen x hidden in the stream dtype;
//   forward      one chunk's intermediates (batch windows x seqlen x (3 ffn + 6 hidden) f32, one
//                sequence's attention scores, the captured site inputs of both streams);
//   statistics   the largest input site's statistics (3 k^2 f32 for DuoGPT, 1 k^2 otherwise) and the
//                solver's factor and weight copies (k^2 + 4 x ffn x hidden f32);
//   evaluation   the evaluation windows' hidden states (dense and pruned: 2 x windows x seqlen x
//                hidden f32), the lm_head in f32 and one window's logits (3 x seqlen x vocab f32).
// Torch-free header.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_config.h"
#include "core/prune/prune_types.h"

namespace duo {

// Evaluation computes the lm_head on a whole batch of windows when its logits take at most this
// many bytes (the whole-model path's arithmetic, bit for bit), else one window at a time.
inline constexpr int64_t kHeadBatchBytes = 512ll << 20;

struct MemoryPlanInput {
  std::string job = "prune";     // prune | eval | sensitivity
  std::string model;             // for messages
  ModelConfig config;
  int sourceBytes = 4;           // bytes per stored element (2 for BF16/F16; 4 for F32 and dequantised GGUF)
  Method method = Method::DuoGpt;
  bool actSparsity = true;       // any site with p_a > 0 (baselines then keep a third stream)
  int64_t nsamples = 0, seqlen = 0;  // calibration (prune, sensitivity)
  int streamBytes = 4;           // 4 (f32) or 2 (bf16) per stream element
  int batchWindows = 8;          // windows per forward chunk
  bool keepSiteInputs = true;    // prune: every window's site inputs kept (CalibrateOptions::keepSiteInputs)
  int64_t evalWindows = 0, evalSeqlen = 0;  // 0 windows: no evaluation
  bool evalBoth = true;          // prune --eval keeps the dense and the pruned evaluation streams
  int evalBatch = 4;
};

struct MemoryTerm {
  std::string key;   // runtime | embedding | layer | streams | forward | statistics | evaluation
  std::string what;  // the formula in words, with the numbers
  int64_t bytes = 0;
};

struct MemoryPlan {
  std::string job, model;
  std::vector<MemoryTerm> terms;
  int64_t total = 0;
  int64_t available = 0;          // bytes free for this process now (0 = unknown)
  std::string availableFrom;      // "MemAvailable", "cgroup memory.max", ...
  bool fits() const { return available <= 0 || total <= available; }

  // {"job", "model", "terms": {key: bytes}, "total_bytes", "available_bytes", "available_from", "fits"}
  nlohmann::json toJson() const;
  // A table, one term a line, GiB with one decimal.
  std::string text() const;
  // The refusal when it does not fit: the model, the need, what is free, and the flags that
  // would make it fit.
  std::string refusal() const;
};

// The plan for one job (see the formula above).
MemoryPlan planMemory(const MemoryPlanInput& in);

// Memory this process can still use: /proc/meminfo's MemAvailable, lowered to the cgroup's limit
// minus its usage when one is set. 0 when unknown; `from` says which.
int64_t availableMemoryBytes(std::string* from = nullptr);

// Throws duo::Error with plan.refusal() when the plan does not fit.
void checkMemoryPlan(const MemoryPlan& plan);

// Where calibration on a CUDA device keeps its streams and site inputs (`--stream-device`):
// flag "device" or "host" as given; "auto" = "device" when the plan's calibration terms (layer,
// streams, forward, statistics) fit in freeDeviceBytes with 10% to spare or when free memory is
// unknown (< 0), else "host". Throws on another flag.
std::string chooseStreamPlacement(const MemoryPlan& plan, const std::string& flag, int64_t freeDeviceBytes);

}  // namespace duo
