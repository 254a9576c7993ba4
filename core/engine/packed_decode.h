// SPDX-License-Identifier: GPL-3.0-or-later
// The decode engine's packed path: every projection of a loaded LlamaModel packed once into the
// kernel format that reads the fewest bytes for its sparsity, and a KV-cached decode step that runs
// each projection's mat-vec through those kernels (kernels/matvec.h) instead of torch::linear:
//   pruned weights, sparse inputs  -> cpu::dualSparseSpmspv on column-packed records
//   pruned weights, dense inputs   -> cpu::weightSparseSpmv (N:M rows when the mask is N:M)
//   dense weights, sparse inputs   -> cpu::actSparseGemv on a column-major copy
//   dense weights, dense inputs    -> cpu::denseGemv on the model's own row-major tensor (no copy)
// The lm_head (tied or not) also runs through cpu::denseGemv. With PackedDecoderOptions::values other
// than f32, every projection and the lm_head are stored in that type (int8: one scale per output
// row) and the embedding rows are read from such a copy too; norms, RoPE, attention and the KV
// cache stay f32. Activations are sparsified by the
// run's rule (topk or threshold, SparsityConfig + ActThresholds, as core/prune/act_hook does) in
// plain C++ before the projections see them, so zero inputs are skipped by the kernels.
// Internal header (torch).
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/engine/bytes_model.h"
#include "core/engine/sparsify_rows.h"
#include "core/model/llama_model.h"
#include "core/prune/act_thresholds.h"
#include "core/prune/sparsity_config.h"
#include "kernels/dense_matrix.h"
#include "kernels/nm_sparse.h"
#include "kernels/sparse_columns.h"

namespace duo::perf {

// One projection as the engine runs it.
struct PackedProjection {
  Kernel kernel = Kernel::Dense;  // Dense, ActSparse, WeightSparse or DualSparse
  std::string format;             // "row-major", "col-major", "bitmap", "u16", "n:m"
  std::int64_t rows = 0, cols = 0;
  double weightSparsity = 0;      // measured fraction of zero weights
  double actSparsity = 0;         // the site's configured p_a
  kernels::DenseView rowMajor;    // Dense: a view of the model's own weight tensor, or of rowMajorCopy
  kernels::DenseMatrix rowMajorCopy;  // Dense with values other than f32
  kernels::DenseMatrix colMajor;  // ActSparse
  kernels::SparseColumns packed;  // WeightSparse / DualSparse, column-packed
  kernels::NmMatrix nm;           // WeightSparse on an N:M mask
  bool useNm = false;
  bool int8Inputs = false;        // Dense / ActSparse with int8 values: x rounded to int8 (PackedDecoderOptions)
  torch::Tensor bias;             // [rows] f32 or undefined
  std::uint64_t bytes = 0;        // bytes one full product streams (values + index + offsets)
};

struct PackedDecoderOptions {
  // Every projection on the dense kernel whatever its zeros, inputs not sparsified: the dense
  // baseline of `bench decode` (a dense mat-vec reads the same bytes whatever the values).
  bool dense = false;
  // Pack pruned projections even when the bytes model says the dense kernel reads fewer bytes
  // (tests use it to cover the sparse kernels on lightly pruned matrices).
  bool forceSparse = false;
  // Prefer the N:M format for N:M masks when the site has no activation sparsity (N:M rows save
  // nothing on zero inputs, so with p_a > 0 the column-packed records are smaller to read).
  bool allowNm = true;
  // A measured timing profile (core/engine/timing_profile.h): each projection runs on the kernel the
  // profile says is fastest at its sparsity. Empty: the bytes model's cheapest.
  TimingProfile timing;
  // Every projection on this kernel whatever the bytes model or the profile say (in-situ timing of
  // each kernel by `bench calibrate`); Dense also leaves the inputs dense.
  std::optional<Kernel> force;
  // Storage of the weight values of every projection, the lm_head and the embedding rows: f32 (the
  // model's own tensors), f16, bf16 or int8 (symmetric, one f32 scale per output row).
  kernels::ValueType values = kernels::ValueType::F32;
  // With int8 values: every product rounds its input to int8 in blocks of 32 and multiplies in
  // integers (kernels::DenseView::int8Inputs, llama.cpp's Q8_0 arithmetic), the lm_head too. Each
  // projection runs on the kernel an int8-input timing profile finds fastest, or else the bytes
  // model's cheapest, which takes the packed formats only where the CPU runs their int8-input
  // kernels at memory speed (MatVec::int8Inputs: AVX-512 VNNI); elsewhere dense or act-sparse, and
  // pruned weights then save no bytes. N:M rows keep f32 inputs' kernels, so they are not used.
  bool int8Inputs = false;
  // q/k/v and gate/up, which read the same input, run as one product each (their rows stacked in
  // one packed matrix) when they got the same kernel and none is N:M: 4 calls a layer instead of 7,
  // the same bytes. Not on the dense kernel with f32 values, which reads the model's tensors in
  // place (a stacked copy would double their memory). The step profile then splits each fused call's time over its members by their
  // bytes. Off: every projection is its own call (bench calibrate times kernels that way).
  bool fuse = true;
};

// Where a decode step's time goes, summed over the steps run while it is attached
// (PackedDecoder::setStepProfile): each projection's kernel calls, the lm_head, the activation
// sparsification and the whole step.
struct StepProfile {
  std::vector<double> projSeconds;  // [layers * 7], index layer * 7 + proj
  std::vector<double> siteSeconds;  // [layers * 4] sparsification, index layer * 4 + site
  double headSeconds = 0;
  double totalSeconds = 0;
  std::int64_t steps = 0;
};

class PackedDecoder {
 public:
  // Packs every projection of `model` (weights as they are: pruned weights are zero) for the
  // activation rule `act` (+ `thresholds` for the threshold rule); `act` with no layers means
  // dense inputs everywhere. The model's weights must stay alive and unchanged while this exists.
  PackedDecoder(const LlamaModel& model, const SparsityConfig& act, const ActThresholds& thresholds = {},
                const PackedDecoderOptions& options = {});

  // Makes model.decodeStep run through this decoder (projections and lm_head); `*this` must
  // outlive the installation. uninstall() restores the torch path.
  void install(LlamaModel& model) const;
  static void uninstall(LlamaModel& model);

  // One single-token decode step in plain C++ on the packed kernels: tokens [B, 1] i64 at position
  // cache.length -> logits [B, vocab] f32, filling and advancing the cache (one from
  // model.newCache: [B, Hkv, maxLen, hd] f32 per layer). RMSNorm, RoPE, the cache append,
  // attention over the cache, SwiGLU and the residual adds are loops on raw pointers instead of the
  // ~60 small LibTorch ops per layer the torch path runs, whose fixed cost at batch 1 otherwise
  // rivals the projections themselves. Applies this decoder's own activation rule; equals
  // model.decodeStep(cache, tokens, hook()) with the decoder installed, to float rounding.
  // install() routes decodeStep's single-token steps here. Not for concurrent use.
  torch::Tensor step(KvCache& cache, const torch::Tensor& tokens) const;

  // Attaches (or, with nullptr, detaches) a profile that step() adds its timings to; the profile
  // is sized on attach. Costs two clock reads per timed part.
  void setStepProfile(StepProfile* profile) const;

  // The activation rule as an InputHook (C++ loops, no torch ops beyond one allocation); pass it
  // to decodeStep. Identity when the rule has no sparsity.
  InputHook hook() const;

  // y = W_p x for x [..., k_in] f32 -> [..., n_out] f32 (bias added), through the packed kernel.
  torch::Tensor project(int layer, Proj p, const torch::Tensor& x) const;
  // logits = lm_head h for h [..., d] f32 (already final-normed) -> [..., vocab] f32.
  torch::Tensor head(const torch::Tensor& h) const;

  const PackedProjection& projection(int layer, Proj p) const;
  int numLayers() const { return static_cast<int>(m_layers.size()); }
  // Fraction of all projection weights that are zero (parameter-weighted).
  double weightSparsity() const;
  // Bytes one decode step's projections stream, summed over layers (bytes model's count).
  std::uint64_t projectionBytes() const;
  // Groups run as one product (PackedDecoderOptions::fuse): up to 2 a layer (q/k/v, gate/up).
  int fusedGroups() const;
  // "dual_sparse x210" style summary of the kernels chosen.
  std::string kernelSummary() const;
  // Storage of the weight values (PackedDecoderOptions::values).
  kernels::ValueType values() const { return m_values; }
  // Bytes of the lm_head's values one step reads.
  std::uint64_t headBytes() const { return m_head.valueBytesRead(); }

 private:
  // Projections that share an input, run as one product: `all` holds the members' rows stacked in
  // Proj order (members[i]'s rows start at offsets[i]).
  struct Fused {
    PackedProjection all;
    std::vector<Proj> members;
    std::vector<std::int64_t> offsets;
    bool on() const { return !members.empty(); }
    std::int64_t offsetOf(Proj p) const {
      for (size_t i = 0; i < members.size(); ++i)
        if (members[i] == p) return offsets[i];
      return 0;
    }
  };
  void fuse(int layer, std::initializer_list<Proj> members, Fused& out);
  const Fused* fusedOf(int layer, Proj p) const;
  // One site's projections of x [rows, k] into ys[i] [rows, n_i] (members in Proj order): one call
  // when fused, else one each; the profile's time split by bytes.
  void projectSite(int layer, std::initializer_list<Proj> members, const float* x, float* const* ys,
                   std::int64_t rows) const;
  void projectRaw(int layer, Proj p, const float* x, float* y, std::int64_t rows) const;
  void sparsifyRaw(int layer, Site site, float* x, std::int64_t rows, std::int64_t width) const;
  void ensureRope(std::int64_t len) const;

  const LlamaModel* m_model = nullptr;
  mutable StepProfile* m_profile = nullptr;
  SparsityConfig m_act;
  ActThresholds m_thresholds;
  bool m_anyAct = false;
  std::vector<std::array<PackedProjection, kNumProj>> m_layers;
  std::vector<std::array<Fused, 2>> m_fused;  // [layer][0: q/k/v, 1: gate/up]
  // project() on a fused group: the last fused product and the input it was computed from.
  struct FusedCache {
    const Fused* group = nullptr;
    torch::Tensor x, y;
    std::int64_t version = 0;
  };
  mutable FusedCache m_fusedCache;
  kernels::DenseView m_head;  // [vocab, d] view of the model's lm_head (f32) or of m_headCopy
  torch::Tensor m_headTensor;  // keeps the lm_head storage alive
  kernels::ValueType m_values = kernels::ValueType::F32;
  kernels::DenseMatrix m_headCopy;   // [vocab, d] in m_values (values other than f32)
  kernels::DenseMatrix m_embedCopy;  // [vocab, d] in m_values, when the embedding is not tied to the lm_head
  mutable std::vector<float> m_cos, m_sin;  // [m_ropeLen, head_dim] rotate-half RoPE tables
  mutable std::int64_t m_ropeLen = 0;
};

// The activation rule a pruned DuoScope checkpoint carries in config.json
// (`duoscope_activation_sparsity`: {"sparsity": ..., "thresholds": ...}); false when the folder has
// none (a dense or weight-only model).
bool readActivationRule(const std::string& modelDir, int numLayers, SparsityConfig* sparsity,
                        ActThresholds* thresholds);

// A weight-only magnitude mask applied in place: in every projection, the prunedCount(numel, p)
// smallest |W| set to zero (the in-memory stand-in for a pruned checkpoint in `bench decode`).
void applyMagnitudeMask(LlamaModel& model, double weightSparsity);

}  // namespace duo::perf
