// SPDX-License-Identifier: GPL-3.0-or-later
// Value types of a pruning run that the UI, the CLI and the run records share. Torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace duo {

enum class Method {
  Dense,              // nothing pruned (reference)
  Magnitude,          // smallest |W_ij| per layer
  Wanda,              // |W_ij| * ||X_j|| per output row
  SparseGpt,          // OBS on the pruned stream with dense activations (dX = 0)
  SparseGptSparseIn,  // SparseGPT on sparsified inputs: pruned stream with activation sparsity, dX = 0
  Teal,               // activation sparsity only, dense weights
  DuoGpt              // OBS towards the dense outputs with residual correction (method section 4)
};
const char* methodName(Method m);  // "dense", "magnitude", "wanda", "sparsegpt", "sparsegpt-sparse-in", "teal", "duogpt"
bool methodFromName(const std::string& name, Method* out);
std::vector<Method> allMethods();

enum class ActRule { TopK, Threshold };
const char* actRuleName(ActRule r);  // "topk", "threshold"
bool actRuleFromName(const std::string& name, ActRule* out);

enum class Score { Full, Marginal, SparseGpt };  // DuoGPT's score (method section 4 step 5)
const char* scoreName(Score s);  // "full", "marginal", "sparsegpt"
bool scoreFromName(const std::string& name, Score* out);

// N:M structured weight sparsity; n == 0 means unstructured.
struct NmPattern {
  int n = 0;
  int m = 0;
  bool structured() const { return n > 0; }
  std::string str() const;  // "2:4" or "unstructured"
};
// Parses "2:4" (or "unstructured"/""); throws duo::Error naming the text when malformed.
NmPattern parseNm(const std::string& text);

// The record of one projection as soon as it is pruned: what the live plots and run records show.
struct ProjRecord {
  int layer = 0;
  Proj proj = Proj::Q;
  double weightSparsity = 0;    // achieved fraction of zero weights
  double actSparsity = 0;       // achieved fraction of zeroed inputs on calibration data
  double relError = 0;          // ||W'Xs - W Xd||^2 / ||W Xd||^2 for this method
  double relErrorMaskOnly = 0;  // the same with the method's mask and no weight update
  double seconds = 0;           // wall time spent on this projection (its share of group work)
};

}  // namespace duo
