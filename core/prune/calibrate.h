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
#include <vector>

#include <torch/torch.h>

#include "core/common/progress.h"
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
};

struct CalibrationResult {
  LlamaWeights weights;              // pruned (projections new, the rest shared with the input)
  ActThresholds thresholds;          // per (layer, site) for the threshold rule; 0 layers for topk
  std::vector<ProjRecord> records;   // one per projection, in the order they were pruned
  double secondsForward = 0;         // capture passes and the streams' pushes through each layer
  double secondsStats = 0;           // activation sparsification, statistics, threshold histograms
  double secondsSolve = 0;           // factorisation, masks, sweeps, output errors
};

using RecordFn = std::function<void(const ProjRecord&)>;

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

}  // namespace duo
