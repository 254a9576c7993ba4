// SPDX-License-Identifier: GPL-3.0-or-later
// Precompiled header for duo_core and torch-using tests: the expensive LibTorch headers.
#pragma once
#include <torch/torch.h>
