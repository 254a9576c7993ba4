// SPDX-License-Identifier: GPL-3.0-or-later
// A measured decode speedup together with what it takes to trust it: the spread over interleaved
// dense/pruned pairs, the thread count, and flags for the cases where the number says nothing
// about memory-bound decoding. The window, `prune|eval --measure-speed --json` and the run record
// all carry this one value. Torch-free (the UI includes it).
//
// Flags (`flags` in JSON; each has a sentence in `notes`):
//   cache_resident  the weights a dense step reads fit in the last-level cache: the step is not
//                   bound by memory bandwidth and sparsity's saving in bytes does not show.
//   dense_slow      the dense baseline ran below kDenseSlowFraction of what the machine's measured
//                   read bandwidth allows for its bytes: it was starved (other load), so any
//                   speedup over it is inflated.
//   dense_off_history  the dense baseline is outside [1/kHistoryFactor, kHistoryFactor] x the median
//                   of earlier measurements of the same shape and threads on this machine.
//   noisy           the interquartile range of the pair ratios exceeds kNoisySpread of their
//                   median even after the maximum number of repeats.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace duo {

struct SpeedCheck {
  static constexpr double kTargetSpread = 0.05;     // repeats stop once IQR / median is below this
  static constexpr double kNoisySpread = 0.10;      // flagged above this
  static constexpr double kDenseSlowFraction = 0.35;
  static constexpr double kHistoryFactor = 1.5;
  static constexpr int kHistoryMinEntries = 3;

  double speedup = 0;        // median of the pairs' dense step / pruned step
  double low = 0, high = 0;  // 25th and 75th percentile of those ratios
  int repeats = 0;           // interleaved pairs timed
  int tokens = 0;            // decode steps per repeat
  int threads = 0;
  double denseTokensPerSecond = 0, prunedTokensPerSecond = 0;  // medians
  double expectedDenseTokensPerSecond = 0;  // the bytes model at the measured read bandwidth
  double historyDenseTokensPerSecond = 0;   // median of earlier runs of this shape and threads; 0: none
  int historyEntries = 0;
  double denseStepBytes = 0, lastLevelCacheBytes = 0;
  double loadBefore = 0;     // 1-minute load average when the measurement started
  std::vector<std::string> flags;
  std::vector<std::string> notes;

  bool measured() const { return repeats > 0 && speedup > 0; }
  bool trusted() const { return measured() && flags.empty(); }
  bool hasFlag(const std::string& f) const;
  double relativeSpread() const { return speedup > 0 ? (high - low) / speedup : 0; }
  // "1.62x (1.58-1.66 over 7 pairs, 2 threads)"; "" when not measured.
  std::string summary() const;
  // The notes joined into one paragraph ("" when trusted).
  std::string warning() const;

  nlohmann::json toJson() const;
  // Throws duo::Error naming `source` and the mistyped field.
  static SpeedCheck fromJson(const nlohmann::json& j, const std::string& source);
};

// Inputs of one measurement; assessSpeed turns them into a SpeedCheck with its flags.
struct SpeedSample {
  std::vector<double> denseStepSeconds, prunedStepSeconds;  // interleaved pairs, same length
  int tokens = 0, threads = 0;
  double expectedDenseTokensPerSecond = 0;
  double denseStepBytes = 0, lastLevelCacheBytes = 0;
  double loadBefore = 0;
  int batch = 1;
};

// The ratio statistics of the pairs so far: median and interquartile range of dense/pruned.
void pairRatioStats(const std::vector<double>& dense, const std::vector<double>& pruned, double* median, double* p25,
                    double* p75);

// `history`: earlier dense tokens/s of the same shape and threads (may be empty).
SpeedCheck assessSpeed(const SpeedSample& s, const std::vector<double>& history);

// The per-machine history of dense decode speeds, one JSON object per key, kept in
// $DUO_SPEED_HISTORY (a file; "off" disables it), else $XDG_STATE_HOME/duoscope/decode-history.json,
// else ~/.local/state/duoscope/decode-history.json. Unreadable or unwritable history is ignored:
// it only adds a flag.
class SpeedHistory {
 public:
  static std::string defaultPath();  // "" when disabled
  explicit SpeedHistory(std::string path = defaultPath());
  // Earlier dense tokens/s for `key` (most recent last, at most kKeep).
  std::vector<double> lookup(const std::string& key) const;
  // Appends one measurement and writes the file atomically (errors are swallowed).
  void add(const std::string& key, double denseTokensPerSecond);
  static constexpr size_t kKeep = 20;

 private:
  std::string m_path;
};

}  // namespace duo
