// SPDX-License-Identifier: GPL-3.0-or-later
// The bytes model: a memory-bound mat-vec takes (bytes it moves) / (memory bandwidth). Per kernel
// and format it counts the bytes of one y = W x (values + index + offsets + activations + outputs),
// and, end to end, the bytes of one KV-cached decode step of a LLaMA-family model: the sparse
// projections plus the parts sparsity does not touch (embedding lookup, norms, attention over the
// KV cache, lm_head), whose share bounds the speedup (Amdahl).
// Torch-free and cheap: the window calls it to show the predicted speedup while sliders move.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/model/model_config.h"
#include "kernels/sparse_columns.h"
#include "kernels/types.h"

namespace duo::perf {

// The kernels the benchmark times; the key is the JSON name (`bench kernels --json`).
enum class Kernel { BlasDense, Dense, ActSparse, WeightSparse, DualSparse };
constexpr std::array<Kernel, 5> kAllKernels = {Kernel::BlasDense, Kernel::Dense, Kernel::ActSparse,
                                               Kernel::WeightSparse, Kernel::DualSparse};
const char* kernelKey(Kernel k);  // "blas_dense", "dense", "act_sparse", "weight_sparse", "dual_sparse"

struct Bytes {
  double values = 0;       // weight values read (with int8 values: their row scales too)
  double index = 0;        // bitmaps or u16 row indices read
  double offsets = 0;      // per-column record offsets read
  double activations = 0;  // x read
  double outputs = 0;      // y written
  double total() const { return values + index + offsets + activations + outputs; }
};

struct MatVec {
  std::int64_t rows = 0, cols = 0;  // W [rows, cols], y = W x
  double pW = 0.0;  // fraction of weights pruned (uniformly spread)
  double pA = 0.0;  // fraction of inputs that are zero
  kernels::ValueType type = kernels::ValueType::F32;  // weight storage
  int stripRows = 0;  // packed formats' strip height; 0: what the packer picks (autoStripRows)
  // The products round x to int8 (kernels::DenseView::int8Inputs, SparseColumnsView::int8Inputs).
  // The bytes model then leaves the packed formats out unless this CPU runs their int8-input
  // kernels at memory speed (kernels::cpu::packedInt8InputsAtSpeed: AVX-512 VNNI + VBMI2); on AVX2
  // they are bound by their bitmap expansion, 1.5-1.8x slower than act-sparse even at W70
  // (docs/kernels.md). A timing profile decides by its measured lines, whatever the CPU.
  bool int8Inputs = false;
};

// ---- measured timing ------------------------------------------------------------------------------
// The bytes model assumes every kernel streams at the memory bandwidth. Small matrices do not: a
// call has a fixed cost (OpenMP fork/join, per-strip set-up, the output's zeroing) and the sparse
// kernels' scattered reads stream slower than a dense row. A timing profile (`duoscope-cli bench
// calibrate`, core/engine/timing_profile.h) measures our kernels at a model's own shapes on this
// machine and fits, per shape and kernel, seconds = fixed + bytes / rate. With a profile, the
// decode prediction, the kernel choice and the allocator's costs use those lines instead.
struct CostLine {
  double fixedUs = 0;  // per call
  double gbs = 0;      // bytes-model bytes per second / 1e9; 0: no per-byte term
  double seconds(double bytes) const { return 1e-6 * fixedUs + (gbs > 0 ? bytes / (gbs * 1e9) : 0.0); }
  bool empty() const { return fixedUs <= 0 && gbs <= 0; }  // not measured
};
struct ShapeTiming {
  std::int64_t rows = 0, cols = 0;
  std::array<CostLine, 5> kernels{};  // indexed like kAllKernels (BlasDense: the vendor BLAS)
  std::array<double, 5> maxResidual{};  // largest |fit - measured| / measured over the fitted points
  const CostLine& at(Kernel k) const { return kernels[static_cast<std::size_t>(k)]; }
};
struct TimingProfile {
  std::string device;          // "cpu: avx512, 2 threads"
  int threads = 0;
  kernels::ValueType values = kernels::ValueType::F32;  // weight storage the kernels were timed with
  bool int8Inputs = false;     // timed with int8 inputs (PackedDecoderOptions::int8Inputs)
  double readBandwidthGbs = 0; // measured; the parts the profile has no line for (attention, norms) use it
  std::vector<ShapeTiming> shapes;
  std::vector<std::pair<std::int64_t, double>> topkUs;  // input width -> one topk sparsification, batch 1
  // The rest of a decode step (attention over the cache, norms, RoPE, residual adds, SwiGLU,
  // embedding) as measured at `otherContext` cached tokens; 0: the bytes model's parts instead.
  double otherUs = 0;
  double otherContext = 0;
  std::string source;          // file it was loaded from, for messages
  bool empty() const { return shapes.empty(); }
  std::string name() const { return source.empty() ? std::string("(in memory)") : source; }  // for messages
  // The line set for W [rows, cols]; throws duo::Error naming the profile when it has none.
  const ShapeTiming& shape(std::int64_t rows, std::int64_t cols) const;
  // Seconds of one topk over `width` inputs; throws when the profile has no entry.
  double topkSeconds(std::int64_t width) const;
};

// Seconds of one call of kernel k on m: the profile's line for m's shape when `timing` is given and
// not empty, else the bytes model at bandwidthGbs.
double kernelSeconds(Kernel k, const MatVec& m, double bandwidthGbs, const TimingProfile* timing);
// The fastest of Dense / ActSparse / WeightSparse / DualSparse by kernelSeconds: the bytes model's
// cheapestKernel without a profile. The decode engine packs each projection for this kernel.
Kernel fastestKernel(const MatVec& m, const TimingProfile* timing);

// Which index the packer would choose for this matrix (the smaller).
kernels::IndexKind predictedIndex(const MatVec& m);
// Bytes one call of kernel k moves at batch 1. Dense kernels ignore pW (they read every weight);
// BlasDense and Dense are the same bytes; ActSparse and DualSparse read only the active columns'
// values, index and offsets, but scan all of x.
Bytes kernelBytes(Kernel k, const MatVec& m);
// Seconds for those bytes at `bandwidthGbs` (1e9 bytes/s).
double predictSeconds(const Bytes& b, double bandwidthGbs);
// The cheapest of Dense / ActSparse / WeightSparse / DualSparse for this point (what an engine
// that packs each projection for its own sparsity would run).
Kernel cheapestKernel(const MatVec& m);

// ---- end to end ------------------------------------------------------------------------------------
enum class Projection { Q, K, V, O, Gate, Up, Down };
constexpr int kProjections = 7;
const char* projectionName(Projection p);  // "q_proj", ..., "down_proj"

// A LLaMA-family decoder's shapes (no weights).
struct ModelShape {
  int layers = 0;
  int hidden = 0;    // d_model
  int heads = 0;
  int kvHeads = 0;
  int headDim = 0;   // 0: hidden / heads
  int ffn = 0;       // intermediate size
  int vocab = 0;
  int effectiveHeadDim() const { return headDim > 0 ? headDim : hidden / heads; }
};
// SmolLM2-135M: 30 layers, d 576, 9 heads / 3 kv heads, ffn 1536, vocab 49152.
ModelShape smolLm2Shape();
// The shape of a loaded model's config.
ModelShape shapeOf(const ModelConfig& c);
// W [rows, cols] of projection p.
MatVec projectionShape(const ModelShape& s, Projection p);

struct SparsityPoint {
  double pW = 0.0;
  double pA = 0.0;
};
using LayerSparsity = std::array<SparsityPoint, kProjections>;  // indexed by Projection

struct DecodeInput {
  ModelShape shape;
  // One entry per layer; a shorter list repeats its last entry; empty means dense.
  std::vector<LayerSparsity> layers;
  int contextTokens = 256;  // tokens already in the KV cache that attention reads each step
  kernels::ValueType weightType = kernels::ValueType::F32;
  bool int8Inputs = false;  // int8 weights times int8-rounded inputs (MatVec::int8Inputs)
  kernels::ValueType kvType = kernels::ValueType::F32;
  double bandwidthGbs = 20.0;  // measured (bench kernels reports it)
  // A measured timing profile for this model's shapes (not owned); null or empty: the bytes model.
  const TimingProfile* timing = nullptr;
};

struct DecodeParts {
  double projections = 0;  // q..down of every layer
  double attention = 0;    // KV cache reads and writes
  double lmHead = 0;
  double embedding = 0;
  double norms = 0;
  double sparsify = 0;     // topk on the sparse input sites (timing profile only; the bytes model has no term)
  double total() const { return projections + attention + lmHead + embedding + norms + sparsify; }
};

struct DecodePrediction {
  DecodeParts denseSeconds;   // every projection dense
  DecodeParts sparseSeconds;  // every projection on its cheapest (with a profile: fastest) kernel
  double speedup = 1.0;       // dense total / sparse total
  double sparsifiableShare = 0.0;  // projections' share of the dense step (Amdahl's p)
  double projectionSpeedup = 1.0;  // dense / sparse time of the projections alone
  double tokensPerSecondDense() const { return 1.0 / denseSeconds.total(); }
  double tokensPerSecondSparse() const { return 1.0 / sparseSeconds.total(); }
};

DecodePrediction predictDecode(const DecodeInput& in);

// With a profile: seconds of the topk that sparsifies projection p's input site when p is the
// site's first projection (q for q/k/v, gate for gate/up, o, down) and the site is sparse, else 0.
// Summed over a layer's 7 projections this is the layer's `sparsify` time in predictDecode.
double sparsifySeconds(const ModelShape& s, Projection p, const LayerSparsity& layer, const TimingProfile* timing);

}  // namespace duo::perf
