// SPDX-License-Identifier: GPL-3.0-or-later
// Activation sparsity (method section 1): the input vector of each projection loses its
// smallest-magnitude entries at run time. Internal header (torch).
//  - topk: per token, exactly topkZeroCount(k, p) entries of smallest |x| are zeroed;
//  - threshold (TEAL): entries with |x| < t are zeroed, t calibrated per input site so that the
//    expected zeroed fraction on calibration data is p (ThresholdCalibrator).
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace duo {

class Collective;

// Entries zeroed per token of width k at activation sparsity p: round-to-nearest of p * k.
int64_t topkZeroCount(int64_t k, double p);

// x [..., k] (any float dtype, any device): zeroes the topkZeroCount(k, p) smallest-|x| entries of
// every row (token). Exact count per token, ties included. Returns a new tensor.
torch::Tensor sparsifyTopK(const torch::Tensor& x, double p);

// Entries of x that are exactly zero: a vectorised pass over f32 on the CPU, count_nonzero elsewhere.
int64_t zeroCount(const torch::Tensor& x);

// x [..., k]: zeroes the entries with |x| < t. Returns a new tensor.
torch::Tensor sparsifyThreshold(const torch::Tensor& x, float t);

// Calibrates one site's threshold from a stream of inputs with fixed memory: a histogram of
// log2|x| (kBins bins over [kLog2Lo, kLog2Hi], i.e. 0.4% relative resolution) plus a count of
// exact zeros, kept on the inputs' device. threshold(p) interpolates inside the bin where the
// cumulative count reaches p of all entries.
class ThresholdCalibrator {
 public:
  static constexpr int64_t kBins = 16384;
  static constexpr double kLog2Lo = -40.0;  // |x| below 2^-40 counts in the first bin
  static constexpr double kLog2Hi = 24.0;   // |x| above 2^24 counts in the last bin

  // x [..., k]: every entry counts.
  void addBatch(const torch::Tensor& x);
  // Magnitude t such that the fraction of calibration entries with |x| < t is p (p in [0, 1)).
  // 0 when exact zeros already make up p or more. Throws when nothing was added.
  float threshold(double p) const;
  int64_t count() const { return m_total; }
  void free();
  // Data-parallel calibration: every rank's histogram summed (each rank must have added inputs).
  void allReduce(Collective& dist);

 private:
  torch::Tensor m_hist;  // [kBins + 1] i64 on the inputs' device; bin 0 = exact zeros
  int64_t m_total = 0;
};

}  // namespace duo
