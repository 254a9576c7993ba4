// SPDX-License-Identifier: GPL-3.0-or-later
// The calibration pipeline (method section 5): dense and pruned streams through the decoder one
// layer at a time; inside a layer, projections are pruned in data-flow groups
// [q,k,v] -> [o] -> [gate,up] -> [down], each group's inputs captured after the earlier groups
// are pruned. Internal header (torch).
//
// Memory on the device: one layer's weights twice (dense and working copy), the two streams
// [nsamples, seqlen, d] f32 each, one forward chunk's intermediates, and one site's statistics
// (3 k^2 f32 with k the site's input width). Baselines with activation sparsity add a third stream
// (the exported model: pruned weights, activation rule on), on which their records and thresholds
// are measured, and k^2 for the statistics of their own calibration inputs. The input weights are never modified: the result holds new tensors
// for the 7 projections of every layer and shares everything else with the input.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/dist/collective.h"
#include "core/model/io/weight_source.h"
#include "core/model/llama_weights.h"
#include "core/prune/act_thresholds.h"
#include "core/prune/obs_solver.h"
#include "core/prune/prune_types.h"
#include "core/prune/sparsity_config.h"

namespace duo {

struct CalibrateOptions {
  Method method = Method::DuoGpt;
  SparsityConfig sparsity;           // per layer/projection p_w and p_a, N:M and the activation rule
  ObsOptions obs;                    // score, alpha, damping, block size (useResidual is set per method)
  torch::Device device = torch::kCPU;  // where the layer, the streams and the statistics live
  int batchWindows = 8;              // windows per forward chunk (bounds the intermediates' memory)
  // Where the calibration streams live and in what dtype: on the compute device in f32 unless the
  // memory plan moves them to the host or the user asks for bf16 (chunks are computed in f32).
  std::optional<torch::Device> streamDevice;  // unset = device
  torch::ScalarType streamDtype = torch::kFloat32;
  // The dtype of the calibration's matrix products (the streams' projections and the statistics'
  // Gram products): f32, or bf16 with f32 accumulation (oneDNN's AMX / AVX-512 BF16 paths on the
  // CPU, tensor cores on CUDA: about 6x f32's rate on this project's CPU). Everything else (norms,
  // attention, the activation rule, the output errors, the statistics' sums, the solves) stays f32;
  // docs/method.md, "Compute dtype", has what it does to the results.
  torch::ScalarType computeDtype = torch::kFloat32;
  // Keep every window's input at the current site (per stream N x T x (ffn + 2d) f32 at the widest
  // step, where the streams live) so that each site's input is computed once; false recomputes a
  // chunk's layer prefix for every group instead (memory of one chunk, about twice the forward
  // work): for calibration sets whose site inputs do not fit (e.g. 128 x 2048 on a 70B model).
  bool keepSiteInputs = true;
  // Data-parallel calibration (null or one rank: this process does everything). Every rank passes
  // the same windows and options; each takes a contiguous share of the forward chunks (whole chunks
  // of batchWindows windows, so that every chunk is computed as one process would), the statistics
  // and threshold histograms are summed over ranks, each projection is solved by one rank
  // (round-robin through the layer) and broadcast, so every rank goes on with identical weights.
  Collective* dist = nullptr;
  // Kept weights as int8 values (the checkpoint's --out-dtype int8, --int8-rounding): Off keeps the
  // solved values; Nearest rounds each pruned projection to its rows' int8 grid (int8_grid.h);
  // Solve rounds inside the OBS methods' sweep, every rounding error compensated by the later
  // columns (ObsOptions::int8Values; the other methods round to nearest). Either way the pruned
  // stream, the later layers' calibration and the evaluation run on the values the checkpoint stores.
  enum class Int8Values { Off, Nearest, Solve };
  Int8Values int8Values = Int8Values::Off;
};

struct CalibrationResult {
  LlamaWeights weights;              // pruned (projections new, the rest shared with the input); only
                                     // from the in-memory overload: the streamed one hands layers over

  ActThresholds thresholds;          // per (layer, site) for the threshold rule; 0 layers for topk
  std::vector<ProjRecord> records;   // one per projection, in the order they were pruned
  double secondsForward = 0;         // capture passes and the streams' pushes through each layer
  double secondsStats = 0;           // activation sparsification, statistics, threshold histograms
  double secondsSolve = 0;           // factorisation, masks, sweeps, output errors
  // The OBS methods' solves phase by phase (part of secondsSolve), timed on the CPU only: on CUDA
  // each phase's clock would synchronise the device at every sweep step.
  std::optional<ObsProfile> solvePhases;
};

using RecordFn = std::function<void(const ProjRecord&)>;

// A finished layer, handed over before the next one is loaded: both versions f32 on the compute
// device (valid during the call only), with the thresholds calibrated so far (layers <= index).
struct LayerDone {
  int index = 0;
  const LayerWeights& dense;
  const LayerWeights& pruned;
  const ActThresholds& thresholds;
};
using LayerFn = std::function<void(const LayerDone&)>;

// Prunes `dense` (any device; read only) on `windows` [nsamples, seqlen] i64 with the method of
// `opts`. Method::Dense returns the input unchanged with no records. Baselines calibrate as
// published (magnitude, Wanda, SparseGPT: pruned stream with dense activations); DuoGPT,
// SparseGptSparseIn and Teal run the pruned stream with the activation rule on. Every record's
// errors are measured on the inputs the exported model sees: ||W' S(X) - W Xd||^2 / ||W Xd||^2.
// `progress` is called per projection (done = projections finished, total = 7 layers) and between
// forward chunks with the same count; returning false throws duo::Cancelled, the input untouched.
// `onRecord` is called as soon as each projection is pruned.
CalibrationResult calibrate(const LlamaWeights& dense, const torch::Tensor& windows, const CalibrateOptions& opts,
                            const ProgressFn& progress = {}, const RecordFn& onRecord = {});

// The layer streamer's calibration: the same walk with weights read from `source` one layer at a
// time (in its dtype, upcast to f32 on the device while the layer is calibrated) and each finished
// layer handed to `onLayer` instead of being kept; result.weights stays empty. Memory: the
// embedding lookup of the windows, one layer twice in f32, the streams, one site's statistics.
CalibrationResult calibrate(WeightSource& source, const torch::Tensor& windows, const CalibrateOptions& opts,
                            const ProgressFn& progress, const RecordFn& onRecord, const LayerFn& onLayer);

}  // namespace duo
