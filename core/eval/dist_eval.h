// SPDX-License-Identifier: GPL-3.0-or-later
// Evaluation shared by the ranks of a data-parallel job: each rank takes a contiguous share of the
// perplexity windows (whole batches, so that every batch is computed as one process would) and of
// the task's items; the log-likelihood sums and hit counts are then summed over ranks, so every
// rank ends with the numbers one process would report. With one rank these are identities.
// Internal header (torch).
#pragma once
#include <torch/torch.h>

#include "core/data/mc_task.h"
#include "core/dist/collective.h"
#include "core/eval/accuracy.h"
#include "core/eval/perplexity.h"

namespace duo {

// This rank's windows of `windows` [w, T]: whole batches of `batch` windows (possibly none).
torch::Tensor shareWindows(const torch::Tensor& windows, int batch, const Collective& dist);
// This rank's items of `task` (possibly none), name and format kept.
McTask shareTask(const McTask& task, const Collective& dist);

// Perplexity over every rank's windows (NLL sums and token counts summed, then exp of the mean).
PerplexityResult reducePerplexity(const PerplexityResult& mine, Collective& dist);
// Accuracy over every rank's items (hit counts summed; standard errors recomputed). The per-item
// vectors (logLik, pred) stay this rank's own and are cleared when there is more than one rank.
AccuracyResult reduceAccuracy(const AccuracyResult& mine, Collective& dist);

}  // namespace duo
