// SPDX-License-Identifier: GPL-3.0-or-later
// Sensitivity of every projection to weight and activation sparsity: for each layer, each of the 7
// projections and each (p_w, p_a) grid point, the predicted relative output error
//   ||W' S(X) - W X||^2 / ||W X||^2
// estimated from statistics captured once per layer on the dense stream (see sensitivity_compute.h
// for how, docs/allocation.md for why), plus the bytes model's decode time of each point. What
// `duoscope-cli sensitivity` prints, the allocator (core/job/allocate.h) reads and the window
// shows. Torch-free value types.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_config.h"
#include "core/prune/prune_types.h"

namespace duo {

class Collective;

// How the weight part of the error is estimated (the solver whose error it predicts).
enum class WeightEstimator {
  Obs,        // the SparseGPT solver run on H of the dense inputs (predicts DuoGPT / SparseGPT)
  Wanda,      // Wanda's per-row mask |W_ij| ||X_j||, no update
  Magnitude,  // the per-matrix magnitude mask, no update
};
const char* weightEstimatorName(WeightEstimator e);  // "obs", "wanda", "magnitude"
bool weightEstimatorFromName(const std::string& name, WeightEstimator* out);
// The estimator matching a pruning method: duogpt, sparsegpt(-sparse-in) -> obs; wanda; magnitude;
// teal and dense -> obs (their weight error is 0 at p_w = 0 anyway).
WeightEstimator estimatorFor(Method m);

struct SensitivityOptions {
  // Steps of 0.1: errors are convex in p, so an allocation restricted to a coarse grid (0, 0.3, ...)
  // loses to a uniform p between grid points at low targets (docs/allocation.md, section 4).
  std::vector<double> gridW{0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};  // weight sparsities, ascending, in [0, 1)
  std::vector<double> gridA{0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};  // activation sparsities (topk), ascending
  WeightEstimator estimator = WeightEstimator::Obs;
  double damping = 0.01;     // OBS estimator: lambda, relative to mean(diag H)
  int blockSize = 128;       // OBS estimator: mask block
  int actTokens = 4096;      // tokens (evenly strided) on which the activation term is measured; 0 = all
  double owlM = 5.0;         // OWL: a weight is an outlier when its Wanda score > owlM x the layer mean
  int batchWindows = 8;      // windows per forward chunk
  // Data-parallel (null = this process alone): every rank passes the same windows; each takes a
  // share of the forward chunks, the statistics and the activation term's sums are summed over
  // ranks and the weight-error grid points are computed round-robin, so every rank ends with the
  // table one process computes.
  Collective* dist = nullptr;
  // Throws duo::Error naming the grid when empty, unsorted, duplicated or outside [0, 1).
  void validate() const;
};

struct ProjSensitivity {
  int layer = 0;
  Proj proj = Proj::Q;
  int64_t rows = 0, cols = 0;       // W [rows, cols]
  std::vector<double> error;        // [nW * nA] predicted relative output error at (gridW[i], gridA[j]): i * nA + j
  std::vector<double> weightError;  // [nW] e_w: ||dW X||^2 / ||W X||^2 (dense inputs)
  std::vector<double> actError;     // [nA] e_a: ||W (X - S(X))||^2 / ||W X||^2 (dense weights)
  std::vector<double> actEnergy;    // [nA] rho: fraction of the site's input energy topk drops
  std::vector<double> seconds;      // [nW * nA] bytes model: one decode mat-vec on its cheapest kernel
  double denseSeconds = 0;          // the same, dense
  // Loss weight: the predicted increase of the mean token loss per unit of relative output error,
  //   s = (1 / 2T) sum over tokens t and outputs i of G_ti^2 Y_ti^2
  // with G = d(sequence loss)/dY from one backward pass of the dense model (an empirical-Fisher
  // estimate; docs/allocation.md). 0: not computed (tables written before it existed).
  double lossWeight = 0;

  double errorAt(size_t iw, size_t ia) const { return error[iw * actError.size() + ia]; }
  double secondsAt(size_t iw, size_t ia) const { return seconds[iw * actError.size() + ia]; }
};

struct SensitivityTable {
  static constexpr const char* kSchema = "duoscope.sensitivity/1";

  std::string model;                 // as given (path or alias)
  ModelConfig config;                // shapes (for the bytes model and the config's layer count)
  std::vector<double> gridW, gridA;
  WeightEstimator estimator = WeightEstimator::Obs;
  std::vector<ProjSensitivity> projs;  // [numLayers * 7], index layer * 7 + proj
  std::vector<double> outlierRatio;    // [numLayers] OWL's layerwise outlier ratio (fraction of weights)
  // Calibration data (the prune job's windows for the same source/nsamples/seqlen/seed).
  std::string calib;
  int nsamples = 0, seqlen = 0;
  uint64_t seed = 0;
  int64_t actTokens = 0;             // tokens the activation term was measured on
  int lossWindows = 0;               // windows the loss weights came from (0: none computed)
  // Decode step (bytes model; filled by fillDecodeTimes in core/job/sensitivity_job.h).
  int contextTokens = 256;
  double bandwidthGbs = 20.0;
  double denseStepSeconds = 0;       // whole dense decode step
  double fixedSeconds = 0;           // the part sparsity does not touch (attention, lm_head, norms, embedding)
  double secondsCompute = 0;         // wall time of the estimate

  int numLayers() const { return static_cast<int>(outlierRatio.size()); }
  bool hasLossWeights() const;  // every projection has lossWeight > 0
  const ProjSensitivity& at(int layer, Proj p) const;
  ProjSensitivity& at(int layer, Proj p);

  nlohmann::json toJson() const;
  // Throws duo::Error naming `source` and the first fault (schema, sizes, ranges).
  static SensitivityTable fromJson(const nlohmann::json& j, const std::string& source);
  static SensitivityTable load(const std::string& path);
  void save(const std::string& path) const;  // atomic
};

}  // namespace duo
