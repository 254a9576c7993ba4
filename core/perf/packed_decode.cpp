#include "core/perf/packed_decode.h"

#include "core/eval/checkpoint_rule.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/common/error.h"
#include "core/prune/act_sparsity.h"
#include "core/prune/masks.h"
#include "kernels/matvec.h"

namespace duo::perf {

namespace k = duo::kernels;

namespace {

// Kernel choice for a projection: the cheapest by the bytes model (what predictDecode assumes),
// among those the weights allow (the sparse formats need zeros to skip).
Kernel chooseKernel(std::int64_t rows, std::int64_t cols, double pW, double pA, bool forceSparse) {
  MatVec m;
  m.rows = rows;
  m.cols = cols;
  m.pW = pW;
  m.pA = pA;
  if (forceSparse && pW > 0) return pA > 0 ? Kernel::DualSparse : Kernel::WeightSparse;
  const Kernel best = cheapestKernel(m);
  return best == Kernel::BlasDense ? Kernel::Dense : best;
}

// Calls `fn(x_chunk, y_chunk, n)` over x [rows, kIn] / y [rows, nOut] in chunks of kMaxBatch rows.
template <class Fn>
void forBatches(const float* x, float* y, std::int64_t rows, std::int64_t kIn, std::int64_t nOut, Fn fn) {
  for (std::int64_t r = 0; r < rows; r += k::kMaxBatch) {
    const int n = static_cast<int>(std::min<std::int64_t>(k::kMaxBatch, rows - r));
    fn(x + r * kIn, y + r * nOut, n);
  }
}

}  // namespace

void sparsifyTopKRows(float* x, std::int64_t rows, std::int64_t kIn, double p) {
  const std::int64_t nZero = topkZeroCount(kIn, p);
  if (nZero <= 0) return;
  std::vector<float> mag(static_cast<size_t>(kIn));  // [k] f32 scratch
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = x + r * kIn;
    if (nZero >= kIn) {
      std::fill(row, row + kIn, 0.0f);
      continue;
    }
    for (std::int64_t i = 0; i < kIn; ++i) mag[static_cast<size_t>(i)] = std::fabs(row[i]);
    // t = the nZero-th smallest magnitude: everything below it goes, then ties at t in index order
    // until exactly nZero are zeroed.
    std::nth_element(mag.begin(), mag.begin() + (nZero - 1), mag.end());
    const float t = mag[static_cast<size_t>(nZero - 1)];
    std::int64_t zeroed = 0;
    for (std::int64_t i = 0; i < kIn; ++i)
      if (std::fabs(row[i]) < t) {
        row[i] = 0.0f;
        ++zeroed;
      }
    for (std::int64_t i = 0; i < kIn && zeroed < nZero; ++i)
      if (std::fabs(row[i]) == t) {
        row[i] = 0.0f;
        ++zeroed;
      }
  }
}

void sparsifyThresholdRows(float* x, std::int64_t n, float t) {
  if (t <= 0.0f) return;
  for (std::int64_t i = 0; i < n; ++i)
    if (std::fabs(x[i]) < t) x[i] = 0.0f;
}

PackedDecoder::PackedDecoder(const LlamaModel& model, const SparsityConfig& act, const ActThresholds& thresholds,
                             const PackedDecoderOptions& options)
    : m_act(options.dense ? SparsityConfig{} : act), m_thresholds(thresholds) {
  const ModelConfig& c = model.config();
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
      pp.kernel = options.dense ? Kernel::Dense
                                : chooseKernel(pp.rows, pp.cols, pp.weightSparsity, pp.actSparsity, options.forceSparse);
      switch (pp.kernel) {
        case Kernel::Dense:
        case Kernel::BlasDense:
          pp.kernel = Kernel::Dense;
          pp.rowMajor = k::DenseView::rowMajorF32(wp, pp.rows, pp.cols);
          pp.format = "row-major";
          pp.bytes = pp.rowMajor.valueBytesRead();
          break;
        case Kernel::ActSparse:
          pp.colMajor = k::DenseMatrix::fromRowMajor(wp, pp.rows, pp.cols, k::Layout::ColMajor);
          pp.format = "col-major";
          pp.bytes = pp.colMajor.view().valueBytesRead();
          break;
        case Kernel::WeightSparse:
        case Kernel::DualSparse: {
          // N:M rows only help with dense inputs; the masks' N counts pruned weights per group.
          const int keep = act.nm.m - act.nm.n;
          if (nmMask && options.allowNm && pp.actSparsity <= 0 && pp.cols % act.nm.m == 0 &&
              k::isNmSparse(wp, pp.rows, pp.cols, keep, act.nm.m)) {
            pp.useNm = true;
            pp.nm = k::NmMatrix::pack(wp, pp.rows, pp.cols, keep, act.nm.m);
            pp.format = "n:m";
            pp.bytes = pp.nm.valueBytes() + pp.nm.maskBytes();
            pp.kernel = Kernel::WeightSparse;
          } else {
            pp.packed = k::SparseColumns::pack(wp, pp.rows, pp.cols);
            pp.format = k::indexKindName(pp.packed.index());
            pp.bytes = pp.packed.bytes().total();
          }
          break;
        }
      }
    }
  }
  for (int l = 0; l < m_act.numLayers(); ++l)
    for (int s = 0; s < kNumSites; ++s) m_anyAct = m_anyAct || m_act.siteAct(l, static_cast<Site>(s)) > 0;
  m_headTensor = model.weights().lmHead;  // [vocab, d] f32
  DUO_CHECK(m_headTensor.dim() == 2 && m_headTensor.scalar_type() == torch::kFloat32 && m_headTensor.is_contiguous(),
            "packed decode: expected a contiguous [vocab, d] f32 lm_head");
  m_head = k::DenseView::rowMajorF32(m_headTensor.data_ptr<float>(), m_headTensor.size(0), m_headTensor.size(1));
}

const PackedProjection& PackedDecoder::projection(int layer, Proj p) const {
  DUO_ASSERT(layer >= 0 && layer < numLayers());
  return m_layers[static_cast<size_t>(layer)][static_cast<size_t>(p)];
}

torch::Tensor PackedDecoder::project(int layer, Proj p, const torch::Tensor& x) const {
  const PackedProjection& pp = projection(layer, p);
  DUO_CHECK(x.size(-1) == pp.cols, "packed decode: layer ", layer, " ", projName(p), ": expected inputs of width ",
            pp.cols, ", got ", x.size(-1));
  const torch::Tensor xc = x.contiguous();  // [..., k_in] f32
  auto sizes = xc.sizes().vec();
  sizes.back() = pp.rows;
  torch::Tensor y = torch::empty(sizes, xc.options());  // [..., n_out] f32
  const std::int64_t rows = xc.numel() / pp.cols;
  const float* xp = xc.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  forBatches(xp, yp, rows, pp.cols, pp.rows, [&](const float* xb, float* yb, int n) {
    switch (pp.kernel) {
      case Kernel::Dense:
      case Kernel::BlasDense: k::cpu::denseGemv(pp.rowMajor, xb, yb, n); break;
      case Kernel::ActSparse: k::cpu::actSparseGemv(pp.colMajor.view(), xb, yb, n); break;
      case Kernel::WeightSparse:
        if (pp.useNm) k::cpu::weightSparseSpmv(pp.nm.view(), xb, yb, n);
        else k::cpu::weightSparseSpmv(pp.packed.view(), xb, yb, n);
        break;
      case Kernel::DualSparse: k::cpu::dualSparseSpmspv(pp.packed.view(), xb, yb, n); break;
    }
  });
  if (pp.bias.defined()) y.add_(pp.bias);
  return y;
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
  model.setDecodeOverride([this](int layer, Proj p, const torch::Tensor& x) { return project(layer, p, x); });
  model.setDecodeHeadOverride([this](const torch::Tensor& h) { return head(h); });
}

void PackedDecoder::uninstall(LlamaModel& model) {
  model.setDecodeOverride({});
  model.setDecodeHeadOverride({});
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
