// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/engine/packed_decode.h"

#include "core/eval/checkpoint_rule.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/common/error.h"
#include "core/model/row_ops.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/masks.h"
#include "kernels/matvec.h"

namespace duo::perf {

namespace k = duo::kernels;

namespace {

// Kernel choice for a projection: the fastest by the timing profile when there is one, else the
// cheapest by the bytes model (what predictDecode assumes either way), among those the weights
// allow (the sparse formats need zeros to skip).
Kernel chooseKernel(std::int64_t rows, std::int64_t cols, double pW, double pA, bool forceSparse,
                    const TimingProfile* timing, k::ValueType values, bool int8Inputs) {
  MatVec m{rows, cols, pW, pA, values};
  m.int8Inputs = int8Inputs;  // dense or act-sparse only
  if (forceSparse && pW > 0) return pA > 0 ? Kernel::DualSparse : Kernel::WeightSparse;
  const Kernel best = fastestKernel(m, timing);
  return best == Kernel::BlasDense ? Kernel::Dense : best;
}

// Packs w [pp.rows, pp.cols] f32 for pp.kernel in `values` (not N:M). On the dense kernel with f32
// values pp.rowMajor is a view of w, which must outlive pp.
void packFor(PackedProjection& pp, const float* wp, k::ValueType values) {
  switch (pp.kernel) {
    case Kernel::Dense:
    case Kernel::BlasDense:
      pp.kernel = Kernel::Dense;
      if (values == k::ValueType::F32) {
        pp.rowMajor = k::DenseView::rowMajorF32(wp, pp.rows, pp.cols);
      } else {
        pp.rowMajorCopy = k::DenseMatrix::fromRowMajor(wp, pp.rows, pp.cols, k::Layout::RowMajor, values);
        pp.rowMajor = pp.rowMajorCopy.view();
      }
      pp.format = "row-major";
      pp.bytes = pp.rowMajor.valueBytesRead();
      break;
    case Kernel::ActSparse:
      pp.colMajor = k::DenseMatrix::fromRowMajor(wp, pp.rows, pp.cols, k::Layout::ColMajor, values);
      pp.format = "col-major";
      pp.bytes = pp.colMajor.view().valueBytesRead();
      break;
    case Kernel::WeightSparse:
    case Kernel::DualSparse: {
      k::PackOptions po;
      po.type = values;
      pp.packed = k::SparseColumns::pack(wp, pp.rows, pp.cols, po);
      pp.format = k::indexKindName(pp.packed.index());
      pp.bytes = pp.packed.bytes().total();
      break;
    }
  }
}

// y = W x through pp's kernel for x [rows, pp.cols] -> y [rows, pp.rows], bias added.
void runProjection(const PackedProjection& pp, const float* x, float* y, std::int64_t rows);

// Calls `fn(x_chunk, y_chunk, n)` over x [rows, kIn] / y [rows, nOut] in chunks of kMaxBatch rows.
template <class Fn>
void forBatches(const float* x, float* y, std::int64_t rows, std::int64_t kIn, std::int64_t nOut, Fn fn) {
  for (std::int64_t r = 0; r < rows; r += k::kMaxBatch) {
    const int n = static_cast<int>(std::min<std::int64_t>(k::kMaxBatch, rows - r));
    fn(x + r * kIn, y + r * nOut, n);
  }
}

}  // namespace

PackedDecoder::PackedDecoder(const LlamaModel& model, const SparsityConfig& act, const ActThresholds& thresholds,
                             const PackedDecoderOptions& options)
    : m_model(&model), m_act(options.dense ? SparsityConfig{} : act), m_thresholds(thresholds),
      m_values(options.values) {
  const ModelConfig& c = model.config();
  DUO_CHECK(!options.int8Inputs || options.values == k::ValueType::I8,
            "packed decode: int8 inputs need int8 values, got ", k::valueTypeName(options.values));
  DUO_CHECK(model.device().is_cpu(), "packed decode: the model must be on the CPU, it is on ", model.device().str());
  const int layers = static_cast<int>(c.numLayers);
  DUO_CHECK(act.numLayers() == 0 || act.numLayers() == layers, "packed decode: the activation rule has ",
            act.numLayers(), " layers, the model ", layers);
  if (m_act.numLayers() > 0 && m_act.actRule == ActRule::Threshold)
    DUO_CHECK(thresholds.numLayers() == layers, "packed decode: the threshold rule has thresholds for ",
              thresholds.numLayers(), " layers, the model has ", layers);
  const bool nmMask = act.nm.structured();
  m_layers.resize(static_cast<size_t>(layers));
  for (int l = 0; l < layers; ++l) {
    const LayerWeights& lw = model.weights().layers[static_cast<size_t>(l)];
    for (int pi = 0; pi < kNumProj; ++pi) {
      const Proj p = static_cast<Proj>(pi);
      const torch::Tensor& w = lw.w(p);  // [n_out, k_in] f32
      DUO_CHECK(w.dim() == 2 && w.scalar_type() == torch::kFloat32 && w.is_contiguous(), "packed decode: layer ", l,
                " ", projName(p), ": expected a contiguous [n_out, k_in] f32 weight");
      PackedProjection& pp = m_layers[static_cast<size_t>(l)][static_cast<size_t>(pi)];
      pp.rows = w.size(0);
      pp.cols = w.size(1);
      const float* wp = w.data_ptr<float>();
      std::int64_t zeros = 0;
      for (std::int64_t i = 0, n = pp.rows * pp.cols; i < n; ++i) zeros += wp[i] == 0.0f;
      pp.weightSparsity = static_cast<double>(zeros) / static_cast<double>(pp.rows * pp.cols);
      pp.actSparsity = m_act.numLayers() > 0 ? m_act.siteAct(l, siteOf(p)) : 0.0;
      if (p == Proj::Q) pp.bias = lw.qBias;
      if (p == Proj::K) pp.bias = lw.kBias;
      if (p == Proj::V) pp.bias = lw.vBias;
      // An int8-input profile's lines hold for int8 inputs only (bench decode refuses a mismatch).
      const bool profiled = !options.timing.empty() && options.timing.int8Inputs == options.int8Inputs;
      pp.kernel = options.dense   ? Kernel::Dense
                  : options.force ? *options.force
                                  : chooseKernel(pp.rows, pp.cols, pp.weightSparsity, pp.actSparsity, options.forceSparse,
                                                 profiled ? &options.timing : nullptr, m_values, options.int8Inputs);
      pp.int8Inputs = options.int8Inputs;
      // N:M rows only help with dense inputs; the masks' N counts pruned weights per group.
      const int keep = act.nm.m - act.nm.n;
      if ((pp.kernel == Kernel::WeightSparse || pp.kernel == Kernel::DualSparse) && nmMask && options.allowNm &&
          !options.int8Inputs &&
          pp.actSparsity <= 0 && pp.cols % act.nm.m == 0 && k::isNmSparse(wp, pp.rows, pp.cols, keep, act.nm.m)) {
        pp.useNm = true;
        pp.nm = k::NmMatrix::pack(wp, pp.rows, pp.cols, keep, act.nm.m, m_values);
        pp.format = "n:m";
        pp.bytes = pp.nm.valueBytes() + pp.nm.maskBytes();
        pp.kernel = Kernel::WeightSparse;
      } else {
        packFor(pp, wp, m_values);
      }
    }
  }
  m_fused.resize(static_cast<size_t>(layers));
  for (int l = 0; options.fuse && l < layers; ++l) {
    fuse(l, {Proj::Q, Proj::K, Proj::V}, m_fused[static_cast<size_t>(l)][0]);
    fuse(l, {Proj::Gate, Proj::Up}, m_fused[static_cast<size_t>(l)][1]);
  }
  for (int l = 0; l < m_act.numLayers(); ++l)
    for (int s = 0; s < kNumSites; ++s) m_anyAct = m_anyAct || m_act.siteAct(l, static_cast<Site>(s)) > 0;
  const LlamaWeights& mw = model.weights();
  DUO_CHECK(mw.embed.scalar_type() == torch::kFloat32 && mw.embed.is_contiguous() &&
                mw.finalNorm.scalar_type() == torch::kFloat32,
            "packed decode: expected contiguous f32 embeddings and norms");
  m_headTensor = model.weights().lmHead;  // [vocab, d] f32
  DUO_CHECK(m_headTensor.dim() == 2 && m_headTensor.scalar_type() == torch::kFloat32 && m_headTensor.is_contiguous(),
            "packed decode: expected a contiguous [vocab, d] f32 lm_head");
  m_head = k::DenseView::rowMajorF32(m_headTensor.data_ptr<float>(), m_headTensor.size(0), m_headTensor.size(1));
  if (m_values != k::ValueType::F32) {
    m_headCopy = k::DenseMatrix::fromRowMajor(m_headTensor.data_ptr<float>(), m_head.rows, m_head.cols,
                                              k::Layout::RowMajor, m_values);
    m_head = m_headCopy.view();
    m_head.int8Inputs = options.int8Inputs;
    const bool tied = mw.embed.data_ptr<float>() == m_headTensor.data_ptr<float>();
    if (!tied)
      m_embedCopy = k::DenseMatrix::fromRowMajor(mw.embed.data_ptr<float>(), mw.embed.size(0), mw.embed.size(1),
                                                 k::Layout::RowMajor, m_values);
  }
}

const PackedProjection& PackedDecoder::projection(int layer, Proj p) const {
  DUO_ASSERT(layer >= 0 && layer < numLayers());
  return m_layers[static_cast<size_t>(layer)][static_cast<size_t>(p)];
}

void PackedDecoder::fuse(int layer, std::initializer_list<Proj> members, Fused& out) {
  const auto& ps = m_layers[static_cast<size_t>(layer)];
  const PackedProjection& first = ps[static_cast<size_t>(*members.begin())];
  std::vector<torch::Tensor> ws, biases;
  bool anyBias = false;
  for (const Proj p : members) {
    const PackedProjection& pp = ps[static_cast<size_t>(p)];
    if (pp.useNm || pp.kernel != first.kernel || pp.cols != first.cols) return;  // each runs on its own
    // The dense kernel with f32 values reads the model's own tensors in place: a stacked copy
    // would double their memory.
    if (pp.kernel == Kernel::Dense && m_values == k::ValueType::F32) return;
    anyBias = anyBias || pp.bias.defined();
  }
  const LayerWeights& lw = m_model->weights().layers[static_cast<size_t>(layer)];
  std::int64_t rows = 0;
  for (const Proj p : members) {
    const PackedProjection& pp = ps[static_cast<size_t>(p)];
    out.members.push_back(p);
    out.offsets.push_back(rows);
    rows += pp.rows;
    ws.push_back(lw.w(p));
    biases.push_back(pp.bias.defined() ? pp.bias : torch::zeros({pp.rows}, torch::kFloat32));
  }
  const torch::Tensor stacked = torch::cat(ws, 0).contiguous();  // [sum rows, k] f32, only while packing
  PackedProjection& all = out.all;
  all.kernel = first.kernel;
  all.int8Inputs = first.int8Inputs;
  all.rows = rows;
  all.cols = first.cols;
  all.actSparsity = first.actSparsity;
  if (anyBias) all.bias = torch::cat(biases, 0).contiguous();
  packFor(all, stacked.data_ptr<float>(), m_values);  // its own storage (the dense f32 case is not fused)
  // The members' own copies are no longer read (projectSite and project() slice the fused product): freed.
  for (const Proj p : members) {
    PackedProjection& pp = m_layers[static_cast<size_t>(layer)][static_cast<size_t>(p)];
    pp.rowMajorCopy = k::DenseMatrix{};
    pp.colMajor = k::DenseMatrix{};
    pp.packed = k::SparseColumns{};
  }
}

const PackedDecoder::Fused* PackedDecoder::fusedOf(int layer, Proj p) const {
  for (const Fused& f : m_fused[static_cast<size_t>(layer)])
    for (const Proj m : f.members)
      if (m == p) return &f;
  return nullptr;
}

void PackedDecoder::projectSite(int layer, std::initializer_list<Proj> members, const float* x, float* const* ys,
                                std::int64_t rows) const {
  using Clock = std::chrono::steady_clock;
  StepProfile* prof = m_profile;
  const Fused* f = fusedOf(layer, *members.begin());
  if (f == nullptr) {
    size_t i = 0;
    for (const Proj p : members) {
      const auto t0 = prof != nullptr ? Clock::now() : Clock::time_point{};
      projectRaw(layer, p, x, ys[i++], rows);
      if (prof != nullptr)
        prof->projSeconds[static_cast<size_t>(layer * kNumProj + static_cast<int>(p))] +=
            std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return;
  }
  const auto t0 = prof != nullptr ? Clock::now() : Clock::time_point{};
  thread_local std::vector<float> scratch;
  const std::int64_t n = f->all.rows;
  scratch.resize(static_cast<size_t>(rows * n));
  runProjection(f->all, x, scratch.data(), rows);
  for (size_t i = 0; i < f->members.size(); ++i) {
    const std::int64_t off = f->offsets[i], ni = projection(layer, f->members[i]).rows;
    for (std::int64_t r = 0; r < rows; ++r) std::copy_n(scratch.data() + r * n + off, ni, ys[i] + r * ni);
  }
  if (prof != nullptr) {
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    double total = 0;
    for (const Proj p : f->members) total += static_cast<double>(projection(layer, p).bytes);
    for (const Proj p : f->members)
      prof->projSeconds[static_cast<size_t>(layer * kNumProj + static_cast<int>(p))] +=
          t * static_cast<double>(projection(layer, p).bytes) / total;
  }
}

void PackedDecoder::projectRaw(int layer, Proj p, const float* x, float* y, std::int64_t rows) const {
  // A fused member's own packed copy was freed: it runs through projectSite or project() only.
  DUO_ASSERT(fusedOf(layer, p) == nullptr);
  runProjection(projection(layer, p), x, y, rows);
}

namespace {

void runProjection(const PackedProjection& pp, const float* x, float* y, std::int64_t rows) {
  forBatches(x, y, rows, pp.cols, pp.rows, [&](const float* xb, float* yb, int n) {
    switch (pp.kernel) {
      case Kernel::Dense:
      case Kernel::BlasDense: {
        k::DenseView v = pp.rowMajor;
        v.int8Inputs = pp.int8Inputs;
        k::cpu::denseGemv(v, xb, yb, n);
        break;
      }
      case Kernel::ActSparse: {
        k::DenseView v = pp.colMajor.view();
        v.int8Inputs = pp.int8Inputs;
        k::cpu::actSparseGemv(v, xb, yb, n);
        break;
      }
      case Kernel::WeightSparse:
        if (pp.useNm) {
          k::cpu::weightSparseSpmv(pp.nm.view(), xb, yb, n);
        } else {
          k::SparseColumnsView v = pp.packed.view();
          v.int8Inputs = pp.int8Inputs;
          k::cpu::weightSparseSpmv(v, xb, yb, n);
        }
        break;
      case Kernel::DualSparse: {
        k::SparseColumnsView v = pp.packed.view();
        v.int8Inputs = pp.int8Inputs;
        k::cpu::dualSparseSpmspv(v, xb, yb, n);
        break;
      }
    }
  });
  if (pp.bias.defined()) {
    const float* b = pp.bias.data_ptr<float>();  // [n_out] f32
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t i = 0; i < pp.rows; ++i) y[r * pp.rows + i] += b[i];
  }
}

}  // namespace

torch::Tensor PackedDecoder::project(int layer, Proj p, const torch::Tensor& x) const {
  const PackedProjection& pp = projection(layer, p);
  DUO_CHECK(x.size(-1) == pp.cols, "packed decode: layer ", layer, " ", projName(p), ": expected inputs of width ",
            pp.cols, ", got ", x.size(-1));
  const torch::Tensor xc = x.contiguous();  // [..., k_in] f32
  if (const Fused* f = fusedOf(layer, p)) {
    // Members of a fused group come one after another with the same input (LlamaModel's attention
    // and MLP): the fused product is computed for the first and sliced for each. The input is
    // held (no reuse of a freed address) and its version checked (no in-place change between).
    FusedCache& c = m_fusedCache;
    if (!(c.group == f && c.x.defined() && c.x.is_same(x) && c.version == x._version())) {
      auto sizes = xc.sizes().vec();
      sizes.back() = f->all.rows;
      c.y = torch::empty(sizes, xc.options());  // [..., sum n_out] f32
      runProjection(f->all, xc.data_ptr<float>(), c.y.data_ptr<float>(), xc.numel() / pp.cols);
      c.group = f;
      c.x = x;
      c.version = x._version();
    }
    torch::Tensor y = c.y.narrow(-1, f->offsetOf(p), pp.rows).contiguous();
    if (p == f->members.back()) c = FusedCache{};  // the last member: nothing to reuse after it
    return y;
  }
  auto sizes = xc.sizes().vec();
  sizes.back() = pp.rows;
  torch::Tensor y = torch::empty(sizes, xc.options());  // [..., n_out] f32
  projectRaw(layer, p, xc.data_ptr<float>(), y.data_ptr<float>(), xc.numel() / pp.cols);
  return y;
}

void PackedDecoder::sparsifyRaw(int layer, Site site, float* x, std::int64_t rows, std::int64_t width) const {
  if (!m_anyAct) return;
  const double p = m_act.siteAct(layer, site);
  if (p <= 0.0) return;
  if (m_act.actRule == ActRule::TopK) sparsifyTopKRows(x, rows, width, p);
  else sparsifyThresholdRows(x, rows * width, m_thresholds.at(layer, site));
}

void PackedDecoder::ensureRope(std::int64_t len) const {
  if (len <= m_ropeLen) return;
  const std::int64_t n = std::max<std::int64_t>(len, std::max<std::int64_t>(256, 2 * m_ropeLen));
  const RopeTables t = makeRope(m_model->config(), n, torch::kCPU);  // [n, hd] f32 each
  const torch::Tensor c = t.cos.contiguous(), s = t.sin.contiguous();
  m_cos.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  m_sin.assign(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
  m_ropeLen = n;
}

torch::Tensor PackedDecoder::step(KvCache& cache, const torch::Tensor& tokens) const {
  const ModelConfig& c = m_model->config();
  const LlamaWeights& w = m_model->weights();
  DUO_CHECK(tokens.dim() == 2 && tokens.size(1) == 1, "packed decode: expected tokens [batch, 1]");
  const std::int64_t B = tokens.size(0), d = c.hiddenSize, H = c.numHeads, Hkv = c.numKvHeads, hd = c.headDim;
  const std::int64_t ffn = c.intermediateSize, g = H / Hkv, pos = cache.length, L = numLayers();
  DUO_CHECK(static_cast<std::int64_t>(cache.k.size()) == L && cache.k[0].size(0) == B,
            "packed decode: the cache was made for another model or batch size");
  DUO_CHECK(pos + 1 <= cache.maxLen, "decode: position ", pos + 1, " exceeds the cache length ", cache.maxLen);
  const float* cosRow = nullptr;
  const float* sinRow = nullptr;
  std::vector<float> dynCos, dynSin;  // [hd] f32: this position's row under dynamic NTK scaling
  if (c.ropeScaling.type == "dynamic" && pos + 1 > c.ropeScaling.originalMaxPositions) {
    // the base depends on the sequence length (pos + 1), as in LlamaModel::rope()
    const RopeTables t = makeRope(c, pos + 1, torch::kCPU, pos + 1);  // [pos + 1, hd] f32 each
    const torch::Tensor cr = t.cos[pos].contiguous(), sr = t.sin[pos].contiguous();
    dynCos.assign(cr.data_ptr<float>(), cr.data_ptr<float>() + hd);
    dynSin.assign(sr.data_ptr<float>(), sr.data_ptr<float>() + hd);
    cosRow = dynCos.data();
    sinRow = dynSin.data();
  } else {
    ensureRope(pos + 1);
    cosRow = m_cos.data() + pos * hd;
    sinRow = m_sin.data() + pos * hd;
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  using Clock = std::chrono::steady_clock;
  StepProfile* prof = m_profile;
  const auto stepStart = prof != nullptr ? Clock::now() : Clock::time_point{};
  // Runs fn, adding its wall time to `acc` when a profile is attached.
  auto timed = [prof](double& acc, auto&& fn) {
    if (prof == nullptr) return fn();
    const auto t0 = Clock::now();
    fn();
    acc += std::chrono::duration<double>(Clock::now() - t0).count();
  };
  double unused = 0;
  auto projAcc = [&](std::int64_t l, Proj p) -> double& {
    return prof != nullptr ? prof->projSeconds[static_cast<size_t>(l * kNumProj + static_cast<int>(p))] : unused;
  };
  auto siteAcc = [&](std::int64_t l, Site s) -> double& {
    return prof != nullptr ? prof->siteSeconds[static_cast<size_t>(l * kNumSites + static_cast<int>(s))] : unused;
  };

  // Scratch, per call (a few hundred KB at most): hidden state, normed input, q/k/v, attention
  // output, projection output, gate/up.
  std::vector<float> h(B * d), xn(B * d), q(B * H * hd), kv(2 * B * Hkv * hd), att(B * H * hd), o(B * d);
  std::vector<float> gate(B * ffn), up(B * ffn);
  const torch::Tensor ids = tokens.to(torch::kCPU, torch::kLong).contiguous();  // [B, 1] i64
  const float* emb = w.embed.data_ptr<float>();                                  // [vocab, d] f32
  // With values other than f32 the rows come from the stored copy (the lm_head's when tied).
  const bool fromCopy = m_values != k::ValueType::F32;
  const k::DenseView embCopy = m_embedCopy.rows() > 0 ? m_embedCopy.view() : m_head;  // [vocab, d]
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t id = ids.data_ptr<std::int64_t>()[b];
    DUO_CHECK(id >= 0 && id < c.vocabSize, "decode: token id ", id, " is outside the vocabulary (", c.vocabSize, ")");
    if (fromCopy)
      for (std::int64_t i = 0; i < d; ++i) h[b * d + i] = embCopy.at(id, i);
    else
      std::copy(emb + id * d, emb + (id + 1) * d, h.data() + b * d);
  }
  float* kNew = kv.data();
  float* vNew = kv.data() + B * Hkv * hd;
  for (std::int64_t l = 0; l < L; ++l) {
    const LayerWeights& lw = w.layers[static_cast<size_t>(l)];
    const int li = static_cast<int>(l);
    // Attention block.
    rmsNormRows(h.data(), lw.attnNorm.data_ptr<float>(), xn.data(), B, d, c.rmsNormEps);
    timed(siteAcc(l, Site::Qkv), [&] { sparsifyRaw(li, Site::Qkv, xn.data(), B, d); });
    {
      float* const ys[] = {q.data(), kNew, vNew};
      projectSite(li, {Proj::Q, Proj::K, Proj::V}, xn.data(), ys, B);  // profiled inside
    }
    ropeInPlace(q.data(), B * H, hd, cosRow, sinRow);
    ropeInPlace(kNew, B * Hkv, hd, cosRow, sinRow);
    float* kc = cache.k[static_cast<size_t>(l)].data_ptr<float>();  // [B, Hkv, maxLen, hd]
    float* vc = cache.v[static_cast<size_t>(l)].data_ptr<float>();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < Hkv; ++j) {
        const std::int64_t at = ((b * Hkv + j) * cache.maxLen + pos) * hd;
        std::copy_n(kNew + (b * Hkv + j) * hd, hd, kc + at);
        std::copy_n(vNew + (b * Hkv + j) * hd, hd, vc + at);
      }
    const std::int64_t window = c.windowOf(l);  // 0: all positions
    const std::int64_t s0 = window > 0 && pos + 1 > window ? pos + 1 - window : 0;
    attendOne(q.data(), kc, vc, att.data(), B, H, g, cache.maxLen, s0, pos + 1, hd, scale);
    timed(siteAcc(l, Site::O), [&] { sparsifyRaw(li, Site::O, att.data(), B, H * hd); });
    timed(projAcc(l, Proj::O), [&] { projectRaw(li, Proj::O, att.data(), o.data(), B); });
    for (std::int64_t i = 0; i < B * d; ++i) h[i] += o[i];
    // MLP block.
    rmsNormRows(h.data(), lw.mlpNorm.data_ptr<float>(), xn.data(), B, d, c.rmsNormEps);
    timed(siteAcc(l, Site::GateUp), [&] { sparsifyRaw(li, Site::GateUp, xn.data(), B, d); });
    {
      float* const ys[] = {gate.data(), up.data()};
      projectSite(li, {Proj::Gate, Proj::Up}, xn.data(), ys, B);
    }
    swigluRows(gate.data(), up.data(), B * ffn);
    timed(siteAcc(l, Site::Down), [&] { sparsifyRaw(li, Site::Down, gate.data(), B, ffn); });
    timed(projAcc(l, Proj::Down), [&] { projectRaw(li, Proj::Down, gate.data(), o.data(), B); });
    for (std::int64_t i = 0; i < B * d; ++i) h[i] += o[i];
  }
  cache.length += 1;
  rmsNormRows(h.data(), w.finalNorm.data_ptr<float>(), xn.data(), B, d, c.rmsNormEps);
  torch::Tensor logits = torch::empty({B, m_head.rows}, torch::kFloat32);  // [B, vocab] f32
  timed(prof != nullptr ? prof->headSeconds : unused, [&] {
    forBatches(xn.data(), logits.data_ptr<float>(), B, m_head.cols, m_head.rows,
               [&](const float* xb, float* yb, int n) { k::cpu::denseGemv(m_head, xb, yb, n); });
  });
  if (prof != nullptr) {
    prof->totalSeconds += std::chrono::duration<double>(Clock::now() - stepStart).count();
    prof->steps += 1;
  }
  return logits;
}

void PackedDecoder::setStepProfile(StepProfile* profile) const {
  m_profile = profile;
  if (profile == nullptr) return;
  profile->projSeconds.assign(static_cast<size_t>(numLayers()) * kNumProj, 0.0);
  profile->siteSeconds.assign(static_cast<size_t>(numLayers()) * kNumSites, 0.0);
  profile->headSeconds = profile->totalSeconds = 0;
  profile->steps = 0;
}

torch::Tensor PackedDecoder::head(const torch::Tensor& h) const {
  const torch::Tensor hc = h.contiguous();  // [..., d] f32
  DUO_CHECK(hc.size(-1) == m_head.cols, "packed decode: lm_head expects width ", m_head.cols, ", got ", hc.size(-1));
  auto sizes = hc.sizes().vec();
  sizes.back() = m_head.rows;
  torch::Tensor y = torch::empty(sizes, hc.options());  // [..., vocab] f32
  forBatches(hc.data_ptr<float>(), y.data_ptr<float>(), hc.numel() / m_head.cols, m_head.cols, m_head.rows,
             [&](const float* xb, float* yb, int n) { k::cpu::denseGemv(m_head, xb, yb, n); });
  return y;
}

InputHook PackedDecoder::hook() const {
  if (!m_anyAct) return {};
  return [this](int layer, Site site, const torch::Tensor& x) -> torch::Tensor {
    const double p = m_act.siteAct(layer, site);
    if (p <= 0.0) return x;
    torch::Tensor out = x.to(torch::kFloat32).contiguous().clone();  // [..., k] f32, sparsified in place
    float* d = out.data_ptr<float>();
    const std::int64_t kIn = out.size(-1);
    if (m_act.actRule == ActRule::TopK) sparsifyTopKRows(d, out.numel() / kIn, kIn, p);
    else sparsifyThresholdRows(d, out.numel(), m_thresholds.at(layer, site));
    return out;
  };
}

void PackedDecoder::install(LlamaModel& model) const {
  DUO_CHECK(&model == m_model, "packed decode: install() on a model this decoder was not packed from");
  model.setDecodeStepOverride([this](KvCache& cache, const torch::Tensor& tokens) { return step(cache, tokens); });
  model.setDecodeOverride([this](int layer, Proj p, const torch::Tensor& x) { return project(layer, p, x); });
  model.setDecodeHeadOverride([this](const torch::Tensor& h) { return head(h); });
}

void PackedDecoder::uninstall(LlamaModel& model) {
  model.setDecodeOverride({});
  model.setDecodeHeadOverride({});
  model.setDecodeStepOverride({});
}

double PackedDecoder::weightSparsity() const {
  double zeros = 0, total = 0;
  for (const auto& layer : m_layers)
    for (const auto& pp : layer) {
      const double n = static_cast<double>(pp.rows * pp.cols);
      zeros += pp.weightSparsity * n;
      total += n;
    }
  return total > 0 ? zeros / total : 0.0;
}

std::uint64_t PackedDecoder::projectionBytes() const {
  std::uint64_t b = 0;
  for (const auto& layer : m_layers)
    for (const auto& pp : layer) b += pp.bytes;
  return b;
}

int PackedDecoder::fusedGroups() const {
  int n = 0;
  for (const auto& layer : m_fused)
    for (const Fused& f : layer) n += f.on() ? 1 : 0;
  return n;
}

std::string PackedDecoder::kernelSummary() const {
  std::map<std::string, int> count;
  for (const auto& layer : m_layers)
    for (const auto& pp : layer) ++count[std::string(kernelKey(pp.kernel)) + " (" + pp.format + ")"];
  std::ostringstream os;
  for (const auto& [name, n] : count) os << (os.tellp() > 0 ? ", " : "") << name << " x" << n;
  return os.str();
}

bool readActivationRule(const std::string& modelDir, int numLayers, SparsityConfig* sparsity,
                        ActThresholds* thresholds) {
  // One reader for every consumer of a checkpoint's rule (eval, inspect, decode): core/eval.
  const CheckpointActRule rule = readCheckpointActRule(modelDir, numLayers);
  if (!rule.present) return false;
  *sparsity = rule.sparsity;
  *thresholds = rule.thresholds;
  return true;
}

void applyMagnitudeMask(LlamaModel& model, double weightSparsity) {
  DUO_CHECK(weightSparsity >= 0.0 && weightSparsity < 1.0, "magnitude mask: expected a sparsity in [0, 1), got ",
            weightSparsity);
  if (weightSparsity <= 0.0) return;
  torch::NoGradGuard noGrad;
  for (auto& lw : model.weights().layers)
    for (auto& w : lw.proj) {
      const torch::Tensor keep = keepAllButLowest(w.abs(), weightSparsity);  // [n_out, k_in] bool
      w.mul_(keep.to(w.scalar_type()));
    }
}

}  // namespace duo::perf
