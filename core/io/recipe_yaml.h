// SPDX-License-Identifier: GPL-3.0-or-later
// A run's recipe as YAML in the layout llm-compressor's Recipe parser reads (docs/run-records.md,
// "Recipe"; checked with llm-compressor 0.14 by tests/reference/check_exports.py):
//
//   sparsity_stage:                       # one stage; one modifier group per set of projections
//     sparsity_modifiers:                 # whose per-layer weight sparsities are identical
//       SparseGPTModifier:                # sparsegpt, sparsegpt-sparse-in and duogpt's weight part
//         sparsity: 0.5                   # one number, or one per decoder layer when they differ
//         mask_structure: '0:0'           # N:M, 0:0 = unstructured
//         targets: ['re:.*\.q_proj$', ...]
//         ignore: ['re:.*lm_head', 're:.*embed_tokens']
//         dampening_frac: 0.01
//         block_size: 128
//   duoscope_duogpt: {alpha, score, note}  # duogpt only
//   duoscope_activation_sparsity: {rule, sites, sparsity | layers}
//   duoscope_run: {method, model, calibration, options}
//
// Wanda: WandaPruningModifier (sparsity, mask_structure, targets, ignore). Magnitude:
// MagnitudePruningModifier (init_sparsity = final_sparsity, mask_structure, targets), one group per
// distinct sparsity with layer-specific targets. Modifiers carry only fields llm-compressor
// declares (its modifiers refuse unknown ones); top-level keys not ending in _stage are skipped
// by its parser. Written by hand (no YAML library): block mappings, flow sequences,
// single-quoted strings and numbers in their shortest round-trip form. Torch-free.
#pragma once
#include <string>
#include <vector>

#include "core/io/run_record.h"

namespace duo {

// llm-compressor modifier class for a method's weight part: SparseGPTModifier (sparsegpt,
// sparsegpt-sparse-in, duogpt), WandaPruningModifier, MagnitudePruningModifier; "" for dense
// and teal, which prune no weights.
std::string recipeModifierName(const std::string& method);
// The llm-compressor target regex of a projection: re:.*\.q_proj$
std::string recipeTarget(Proj p);
// A target for projection p of the given decoder layers only: re:.*layers\.(0|3)\.self_attn\.q_proj$
std::string recipeLayerTarget(const std::vector<int>& layers, Proj p);

std::string recipeYaml(const RunRecord& run);
void exportRecipeYaml(const std::string& path, const RunRecord& run);  // atomic

}  // namespace duo
