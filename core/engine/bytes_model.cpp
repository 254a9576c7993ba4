// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/engine/bytes_model.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "kernels/matvec.h"

namespace duo::perf {

const char* kernelKey(Kernel k) {
  switch (k) {
    case Kernel::BlasDense: return "blas_dense";
    case Kernel::Dense: return "dense";
    case Kernel::ActSparse: return "act_sparse";
    case Kernel::WeightSparse: return "weight_sparse";
    case Kernel::DualSparse: return "dual_sparse";
  }
  return "?";
}

namespace {
std::int64_t expectedNnz(const MatVec& m) {
  return static_cast<std::int64_t>(std::llround((1.0 - m.pW) * static_cast<double>(m.rows) * static_cast<double>(m.cols)));
}
int stripRowsOf(const MatVec& m) { return m.stripRows > 0 ? m.stripRows : kernels::autoStripRows(m.rows); }
}  // namespace

kernels::IndexKind predictedIndex(const MatVec& m) {
  return kernels::chooseIndexKind(m.rows, m.cols, expectedNnz(m), stripRowsOf(m));
}

Bytes kernelBytes(Kernel k, const MatVec& m) {
  DUO_CHECK(m.rows >= 1 && m.cols >= 1, "bytes model: expected a matrix of at least 1x1, got [", m.rows, ", ", m.cols,
            "]");
  DUO_CHECK(m.pW >= 0.0 && m.pW <= 1.0 && m.pA >= 0.0 && m.pA <= 1.0,
            "bytes model: sparsities must be in [0, 1], got p_w ", m.pW, ", p_a ", m.pA);
  const double vb = static_cast<double>(kernels::valueBytes(m.type));
  const double weights = static_cast<double>(m.rows) * static_cast<double>(m.cols);
  const double active = 1.0 - m.pA;
  Bytes b;
  b.activations = 4.0 * static_cast<double>(m.cols);
  b.outputs = 4.0 * static_cast<double>(m.rows);
  switch (k) {
    case Kernel::BlasDense:
    case Kernel::Dense: b.values = weights * vb; break;
    case Kernel::ActSparse: b.values = weights * vb * active; break;
    case Kernel::WeightSparse:
    case Kernel::DualSparse: {
      const kernels::SparseBytes s =
          kernels::predictSparseBytes(m.rows, m.cols, expectedNnz(m), predictedIndex(m), m.type, stripRowsOf(m));
      const double share = k == Kernel::DualSparse ? active : 1.0;  // dual reads active columns' records only
      b.values = static_cast<double>(s.values) * share;
      b.index = static_cast<double>(s.index) * share;
      b.offsets = static_cast<double>(s.offsets) * share;
      break;
    }
  }
  if (m.type == kernels::ValueType::I8) b.values += 4.0 * static_cast<double>(m.rows);  // one f32 scale per row
  return b;
}

double predictSeconds(const Bytes& b, double bandwidthGbs) {
  DUO_CHECK(bandwidthGbs > 0.0, "bytes model: bandwidth must be positive, got ", bandwidthGbs, " GB/s");
  return b.total() / (bandwidthGbs * 1e9);
}

Kernel cheapestKernel(const MatVec& m) {
  Kernel best = Kernel::Dense;
  double bestBytes = kernelBytes(Kernel::Dense, m).total();
  for (Kernel k : {Kernel::ActSparse, Kernel::WeightSparse, Kernel::DualSparse}) {
    if (m.int8Inputs && k != Kernel::ActSparse && !kernels::cpu::packedInt8InputsAtSpeed()) continue;  // MatVec::int8Inputs
    const double bytes = kernelBytes(k, m).total();
    if (bytes < bestBytes) {
      best = k;
      bestBytes = bytes;
    }
  }
  return best;
}

const ShapeTiming& TimingProfile::shape(std::int64_t rows, std::int64_t cols) const {
  for (const ShapeTiming& s : shapes)
    if (s.rows == rows && s.cols == cols) return s;
  std::string have;
  for (const ShapeTiming& s : shapes) have += (have.empty() ? "" : ", ") + std::to_string(s.rows) + "x" + std::to_string(s.cols);
  throw Error("timing profile " + name() + " has no timings for a " +
              std::to_string(rows) + "x" + std::to_string(cols) + " matrix (it has " + have +
              "); run `duoscope-cli bench calibrate` for this model");
}

double TimingProfile::topkSeconds(std::int64_t width) const {
  for (const auto& [w, us] : topkUs)
    if (w == width) return 1e-6 * us;
  throw Error("timing profile " + name() + " has no topk timing for width " + std::to_string(width) +
              "; run `duoscope-cli bench calibrate` for this model");
}

double kernelSeconds(Kernel k, const MatVec& m, double bandwidthGbs, const TimingProfile* timing) {
  if (timing == nullptr || timing->empty()) return predictSeconds(kernelBytes(k, m), bandwidthGbs);
  const CostLine& line = timing->shape(m.rows, m.cols).at(k);
  if (line.empty())
    throw Error("timing profile " + timing->name() + " has no " + kernelKey(k) + " timing for a " + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                " matrix; run `duoscope-cli bench calibrate` for this model");
  return line.seconds(kernelBytes(k, m).total());
}

Kernel fastestKernel(const MatVec& m, const TimingProfile* timing) {
  if (timing == nullptr || timing->empty()) return cheapestKernel(m);
  Kernel best = Kernel::Dense;
  double bestSeconds = kernelSeconds(Kernel::Dense, m, 1.0, timing);
  for (Kernel k : {Kernel::ActSparse, Kernel::WeightSparse, Kernel::DualSparse}) {
    if (k == Kernel::ActSparse && m.pA <= 0) continue;  // nothing to skip: never faster than dense
    if ((k == Kernel::WeightSparse || k == Kernel::DualSparse) && m.pW <= 0) continue;
    if (k == Kernel::DualSparse && m.pA <= 0) continue;
    if (timing->shape(m.rows, m.cols).at(k).empty()) continue;  // not timed: never chosen
    const double s = kernelSeconds(k, m, 1.0, timing);
    if (s < bestSeconds) {
      best = k;
      bestSeconds = s;
    }
  }
  return best;
}

// Projection lists the projections in Proj's order: one name table serves both.
static_assert(static_cast<int>(Projection::Q) == static_cast<int>(Proj::Q) &&
              static_cast<int>(Projection::Gate) == static_cast<int>(Proj::Gate) &&
              static_cast<int>(Projection::Down) == static_cast<int>(Proj::Down) && kProjections == kNumProj);
const char* projectionName(Projection p) { return projName(static_cast<Proj>(p)); }

ModelShape shapeOf(const ModelConfig& c) {
  ModelShape m;
  m.layers = static_cast<int>(c.numLayers);
  m.hidden = static_cast<int>(c.hiddenSize);
  m.heads = static_cast<int>(c.numHeads);
  m.kvHeads = static_cast<int>(c.numKvHeads);
  m.headDim = static_cast<int>(c.headDim);
  m.ffn = static_cast<int>(c.intermediateSize);
  m.vocab = static_cast<int>(c.vocabSize);
  return m;
}

ModelShape smolLm2Shape() {
  // layers, d, heads, kv heads, head dim, ffn, vocab
  return ModelShape{30, 576, 9, 3, 64, 1536, 49152};
}

MatVec projectionShape(const ModelShape& s, Projection p) {
  const std::int64_t d = s.hidden, hd = s.effectiveHeadDim();
  MatVec m;
  switch (p) {
    case Projection::Q: m.rows = s.heads * hd, m.cols = d; break;
    case Projection::K:
    case Projection::V: m.rows = s.kvHeads * hd, m.cols = d; break;
    case Projection::O: m.rows = d, m.cols = s.heads * hd; break;
    case Projection::Gate:
    case Projection::Up: m.rows = s.ffn, m.cols = d; break;
    case Projection::Down: m.rows = d, m.cols = s.ffn; break;
  }
  return m;
}

DecodePrediction predictDecode(const DecodeInput& in) {
  const ModelShape& s = in.shape;
  DUO_CHECK(s.layers >= 1 && s.hidden >= 1 && s.heads >= 1 && s.kvHeads >= 1 && s.ffn >= 1 && s.vocab >= 1,
            "decode model: incomplete model shape (layers ", s.layers, ", hidden ", s.hidden, ", heads ", s.heads,
            ", kv heads ", s.kvHeads, ", ffn ", s.ffn, ", vocab ", s.vocab, ")");
  DUO_CHECK(in.contextTokens >= 0, "decode model: context tokens must be >= 0, got ", in.contextTokens);
  const TimingProfile* timing = in.timing != nullptr && !in.timing->empty() ? in.timing : nullptr;
  // Parts without a kernel line stream at the measured read bandwidth when there is a profile.
  const double bw = timing != nullptr && timing->readBandwidthGbs > 0 ? timing->readBandwidthGbs : in.bandwidthGbs;
  const double vb = static_cast<double>(kernels::valueBytes(in.weightType));
  const double kvb = static_cast<double>(kernels::valueBytes(in.kvType));
  const double d = s.hidden;

  // The parts sparsity leaves alone are the same in both runs.
  DecodeParts fixed;
  const double kvRow = static_cast<double>(s.kvHeads) * s.effectiveHeadDim() * kvb;  // one token's k (or v)
  fixed.attention = s.layers * (2.0 * kvRow * (in.contextTokens + 1.0)) / (bw * 1e9);  // read cache, write new k, v
  MatVec lmHead;
  lmHead.rows = s.vocab;
  lmHead.cols = s.hidden;
  lmHead.type = in.weightType;
  fixed.lmHead = kernelSeconds(Kernel::Dense, lmHead, bw, timing);
  fixed.embedding = (d * vb + d * 4.0) / (bw * 1e9);                         // one row in, one vector out
  fixed.norms = (2.0 * s.layers + 1.0) * (3.0 * d * 4.0) / (bw * 1e9);        // weight, input, output
  if (timing != nullptr && timing->otherUs > 0) {
    // Measured at otherContext; the KV-cache reads of a different context by the bytes model.
    fixed.attention = 1e-6 * timing->otherUs +
                      s.layers * (2.0 * kvRow * (in.contextTokens - timing->otherContext)) / (bw * 1e9);
    fixed.embedding = fixed.norms = 0;  // inside otherUs
  }

  DecodePrediction out;
  out.denseSeconds = fixed;
  out.sparseSeconds = fixed;
  for (int l = 0; l < s.layers; ++l) {
    LayerSparsity sp{};
    if (!in.layers.empty()) sp = in.layers[static_cast<std::size_t>(l) < in.layers.size() ? l : in.layers.size() - 1];
    for (int p = 0; p < kProjections; ++p) {
      MatVec m = projectionShape(s, static_cast<Projection>(p));
      m.type = in.weightType;
      m.int8Inputs = in.int8Inputs;
      out.denseSeconds.projections += kernelSeconds(Kernel::Dense, m, bw, timing);
      m.pW = sp[static_cast<std::size_t>(p)].pW;
      m.pA = sp[static_cast<std::size_t>(p)].pA;
      out.sparseSeconds.projections += kernelSeconds(fastestKernel(m, timing), m, bw, timing);
      if (timing != nullptr) out.sparseSeconds.sparsify += sparsifySeconds(s, static_cast<Projection>(p), sp, timing);
    }
  }
  out.speedup = out.denseSeconds.total() / out.sparseSeconds.total();
  out.sparsifiableShare = out.denseSeconds.projections / out.denseSeconds.total();
  out.projectionSpeedup = out.denseSeconds.projections / out.sparseSeconds.projections;
  return out;
}

double sparsifySeconds(const ModelShape& s, Projection p, const LayerSparsity& layer, const TimingProfile* timing) {
  if (timing == nullptr || timing->empty()) return 0.0;
  const auto pA = [&](Projection q) { return layer[static_cast<std::size_t>(q)].pA; };
  const MatVec m = projectionShape(s, p);
  switch (p) {  // one topk per input site, charged to the site's first projection
    case Projection::Q: return std::max({pA(Projection::Q), pA(Projection::K), pA(Projection::V)}) > 0 ? timing->topkSeconds(m.cols) : 0.0;
    case Projection::Gate: return std::max(pA(Projection::Gate), pA(Projection::Up)) > 0 ? timing->topkSeconds(m.cols) : 0.0;
    case Projection::O:
    case Projection::Down: return pA(p) > 0 ? timing->topkSeconds(m.cols) : 0.0;
    default: return 0.0;
  }
}

}  // namespace duo::perf
