// A run's recipe as YAML in the layout llm-compressor reads (docs/run-records.md, "Recipe"):
//
//   sparsity_stage:                       # one stage per group of projections whose per-layer
//     sparsity_modifiers:                 # weight sparsities are identical
//       SparseGPTModifier:                # the method's modifier
//         sparsity: 0.5                   # one number, or one per decoder layer when they differ
//         mask_structure: '0:0'           # N:M (N pruned of every M), 0:0 = unstructured
//         targets: ['re:.*\.q_proj$', ...]
//         ignore: ['re:.*lm_head', 're:.*embed_tokens']
//   duoscope_activation_sparsity: {rule, sites, sparsity | layers}
//   duoscope_run: {method, model, calibration, options}
//
// Written by hand (no YAML library): block mappings, flow sequences, single-quoted strings and
// numbers in their shortest round-trip form. Torch-free.
#pragma once
#include <string>

#include "core/io/run_record.h"

namespace duo {

// Modifier class name for a method: SparseGPTModifier (sparsegpt, sparsegpt-sparse-in),
// WandaPruningModifier, MagnitudePruningModifier, DuoGPTModifier (ours); "" for dense and teal,
// which prune no weights.
std::string recipeModifierName(const std::string& method);
// The llm-compressor target regex of a projection: re:.*\.q_proj$
std::string recipeTarget(Proj p);

std::string recipeYaml(const RunRecord& run);
void exportRecipeYaml(const std::string& path, const RunRecord& run);  // atomic

}  // namespace duo
