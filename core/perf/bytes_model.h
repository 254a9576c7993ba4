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
  double values = 0;       // weight values read
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
};

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
  kernels::ValueType kvType = kernels::ValueType::F32;
  double bandwidthGbs = 20.0;  // measured (bench kernels reports it)
};

struct DecodeParts {
  double projections = 0;  // q..down of every layer
  double attention = 0;    // KV cache reads and writes
  double lmHead = 0;
  double embedding = 0;
  double norms = 0;
  double total() const { return projections + attention + lmHead + embedding + norms; }
};

struct DecodePrediction {
  DecodeParts denseSeconds;   // every projection dense
  DecodeParts sparseSeconds;  // every projection on its cheapest kernel
  double speedup = 1.0;       // dense total / sparse total
  double sparsifiableShare = 0.0;  // projections' share of the dense step (Amdahl's p)
  double projectionSpeedup = 1.0;  // dense / sparse time of the projections alone
  double tokensPerSecondDense() const { return 1.0 / denseSeconds.total(); }
  double tokensPerSecondSparse() const { return 1.0 / sparseSeconds.total(); }
};

DecodePrediction predictDecode(const DecodeInput& in);

}  // namespace duo::perf
