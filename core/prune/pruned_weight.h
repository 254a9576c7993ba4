// SPDX-License-Identifier: GPL-3.0-or-later
// The result of pruning one projection's weight, whatever the method. Internal header (torch).
#pragma once
#include <torch/torch.h>

namespace duo {

struct PrunedWeight {
  torch::Tensor weight;  // [n_out, k_in] same dtype/device as the input weight; zeros where pruned
  torch::Tensor keep;    // [n_out, k_in] bool, true = kept (the method's mask)
};

}  // namespace duo
