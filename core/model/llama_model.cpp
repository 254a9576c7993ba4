// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/llama_model.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <cmath>

#include "core/common/bf16_gemm.h"
#include "core/common/error.h"
#include "core/model/rope.h"
#include "core/model/row_ops.h"

namespace duo {

namespace {
// rotate_half: [x1, x2] -> [-x2, x1] over the last dimension (HF's RoPE layout).
torch::Tensor rotateHalf(const torch::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return torch::cat({-halves[1], halves[0]}, -1);
}

// The CPU f32 contiguous case, where element-wise work runs on raw rows (row_ops.h) on the threads:
// not where autograd records (sensitivity's loss gradients flow through the forward).
bool rawCpuF32(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous() && t.numel() > 0 &&
         !(torch::GradMode::is_enabled() && t.requires_grad());
}
// Elements per parallel part of an element-wise pass.
constexpr int64_t kElementGrain = 1 << 15;
}  // namespace

LlamaWeights configOnly(const ModelConfig& config) {
  LlamaWeights w;
  w.config = config;
  w.layers.resize(static_cast<size_t>(config.numLayers));
  return w;
}

torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (rawCpuF32(x) && rawCpuF32(weight) && weight.dim() == 1 && x.size(-1) == weight.size(0)) {
    // One pass per row (its sum of squares in f64) instead of five over the whole tensor.
    const int64_t d = x.size(-1), rows = x.numel() / d;
    auto out = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    const float* wp = weight.data_ptr<float>();
    float* op = out.data_ptr<float>();
    at::parallel_for(0, rows, std::max<int64_t>(1, kElementGrain / d), [&](int64_t r0, int64_t r1) {
      perf::rmsNormRows(xp + r0 * d, wp, op + r0 * d, r1 - r0, d, eps);
    });
    return out;
  }
  auto var = x.pow(2).mean(-1, /*keepdim=*/true);
  return x * torch::rsqrt(var + eps) * weight;
}

double ropeBaseFor(const ModelConfig& cfg, int64_t seqLen) {
  const RopeScaling& s = cfg.ropeScaling;
  if (s.type != "dynamic" || seqLen <= s.originalMaxPositions) return cfg.ropeTheta;
  // transformers' _compute_dynamic_ntk_parameters: base * (factor * L / L0 - (factor - 1))^(hd / (hd - 2))
  const double hd = static_cast<double>(cfg.headDim);
  const double ratio = s.factor * static_cast<double>(seqLen) / static_cast<double>(s.originalMaxPositions) - (s.factor - 1.0);
  return cfg.ropeTheta * std::pow(ratio, hd / (hd - 2.0));
}

torch::Tensor ropeInvFreq(const ModelConfig& cfg, int64_t seqLen) {
  const int64_t hd = cfg.headDim;
  const RopeScaling& s = cfg.ropeScaling;
  // inv_freq_i = base^(-2i/hd), i in [0, hd/2); base = theta unless dynamic NTK grows it
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const double base = ropeBaseFor(cfg, seqLen);
  auto invFreq = torch::pow(base, -torch::arange(0, hd, 2, opts) / static_cast<double>(hd));  // [hd/2] f64
  if (s.type == "llama3") {
    // LLaMA-3.1 frequency scaling: long wavelengths divided by `factor`, short kept, smooth between.
    const double lowWavelen = static_cast<double>(s.originalMaxPositions) / s.lowFreqFactor;
    const double highWavelen = static_cast<double>(s.originalMaxPositions) / s.highFreqFactor;
    auto wavelen = 2.0 * M_PI / invFreq;
    auto smooth = (static_cast<double>(s.originalMaxPositions) / wavelen - s.lowFreqFactor) /
                  (s.highFreqFactor - s.lowFreqFactor);
    auto mid = (1.0 - smooth) * invFreq / s.factor + smooth * invFreq;
    invFreq = torch::where(wavelen < highWavelen, invFreq, torch::where(wavelen > lowWavelen, invFreq / s.factor, mid));
  } else if (s.type == "linear") {
    invFreq = invFreq / s.factor;  // positions divided by factor
  } else if (s.type == "rope_freqs") {
    DUO_CHECK(static_cast<int64_t>(s.freqFactors.size()) == hd / 2, "rope_freqs: expected ", hd / 2,
              " frequency factors, got ", s.freqFactors.size());
    invFreq = invFreq / torch::tensor(s.freqFactors, opts);  // [hd/2] f64
  } else if (!s.type.empty() && s.type != "dynamic") {
    fail("rope_scaling type '", s.type, "' is not supported (supported: llama3, linear, dynamic, rope_freqs)");
  }
  return invFreq;
}

RopeTables makeRope(const ModelConfig& cfg, int64_t maxLen, torch::Device device, int64_t seqLen) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto invFreq = ropeInvFreq(cfg, seqLen);                  // [hd/2] f64
  auto pos = torch::arange(0, maxLen, opts);                // [T]
  auto freqs = torch::outer(pos, invFreq);                  // [T, hd/2]
  auto emb = torch::cat({freqs, freqs}, -1);                // [T, hd]
  return {emb.cos().to(torch::kFloat32).to(device), emb.sin().to(torch::kFloat32).to(device)};
}

LlamaModel::LlamaModel(LlamaWeights weights, torch::Device device) : m_w(std::move(weights)), m_device(torch::kCPU) {
  const auto& c = m_w.config;
  DUO_CHECK(c.numLayers == static_cast<int64_t>(m_w.layers.size()), "model: config says ", c.numLayers,
            " layers, weights have ", m_w.layers.size());
  DUO_CHECK(c.headDim > 0 && c.numHeads > 0 && c.numKvHeads > 0 && c.numHeads % c.numKvHeads == 0,
            "model: heads ", c.numHeads, " / kv heads ", c.numKvHeads, " / head_dim ", c.headDim, " are inconsistent");
  to(device);
}

void LlamaModel::to(torch::Device device) {
  if (device == m_device && m_ropeLen > 0) return;
  auto mv = [&](torch::Tensor& t) {
    if (t.defined()) t = t.to(device);
  };
  const bool tied = m_w.lmHead.defined() && m_w.lmHead.is_same(m_w.embed);
  mv(m_w.embed);
  for (auto& l : m_w.layers) {
    mv(l.attnNorm);
    mv(l.mlpNorm);
    for (auto& p : l.proj) mv(p);
    mv(l.qBias);
    mv(l.kBias);
    mv(l.vBias);
  }
  mv(m_w.finalNorm);
  if (tied) m_w.lmHead = m_w.embed;
  else mv(m_w.lmHead);
  m_device = device;
  m_ropeLen = 0;
  m_dynLen = 0;
}

const RopeTables& LlamaModel::rope(int64_t needLen) const {
  const ModelConfig& c = m_w.config;
  if (c.ropeScaling.type == "dynamic" && needLen > c.ropeScaling.originalMaxPositions) {
    // Dynamic NTK past the original context: the base depends on this call's sequence length, as in
    // transformers' forward (its rotary embedding recomputes inv_freq from max(position_ids) + 1).
    if (m_dynLen != needLen) {
      m_dynRope = makeRope(c, needLen, m_device, needLen);
      m_dynLen = needLen;
    }
    return m_dynRope;
  }
  if (needLen > m_ropeLen) {
    const int64_t len = std::max<int64_t>(needLen, std::max<int64_t>(256, m_ropeLen * 2));
    // a dynamic model's shared table may only cover the original context (longer lengths above)
    const int64_t cap = c.ropeScaling.type == "dynamic" ? std::max(needLen, c.ropeScaling.originalMaxPositions) : len;
    m_rope = makeRope(c, std::min(len, cap), m_device);
    m_ropeLen = std::min(len, cap);
  }
  return m_rope;
}

torch::Tensor LlamaModel::embed(const torch::Tensor& tokens) const {
  return torch::embedding(m_w.embed, tokens.to(m_device));  // [B, T, d]
}

torch::Tensor LlamaModel::finalNormed(const torch::Tensor& h) const {
  return rmsNorm(h, m_w.finalNorm, m_w.config.rmsNormEps);
}

torch::Tensor LlamaModel::head(const torch::Tensor& h) const {
  return torch::linear(finalNormed(h), m_w.lmHead);  // [B, T, vocab]
}

torch::Tensor LlamaModel::project(int index, const LayerWeights& lw, Proj p, const torch::Tensor& x, bool decode) const {
  if (decode && m_decodeOverride) {
    auto y = m_decodeOverride(index, p, x);
    if (y.defined()) return y;
  }
  const torch::Tensor bias = lw.bias(p);
  torch::Tensor y = bias.defined() ? torch::linear(x, lw.w(p), bias) : torch::linear(x, lw.w(p));
  if (!decode && m_outputHook) y = m_outputHook(index, p, y);
  return y;
}

torch::Tensor LlamaModel::attention(int index, const LayerWeights& lw, const torch::Tensor& x, int64_t pos0,
                                    KvCache* cache, const InputHook& hook, bool decode) const {
  torch::Tensor xin = hook ? hook(index, Site::Qkv, x) : x;  // [B, T, d]
  auto out = attendImpl(index, project(index, lw, Proj::Q, xin, decode), project(index, lw, Proj::K, xin, decode),
                        project(index, lw, Proj::V, xin, decode), pos0, cache);  // [B, T, qDim]
  torch::Tensor oin = hook ? hook(index, Site::O, out) : out;
  return project(index, lw, Proj::O, oin, decode);  // [B, T, d]
}

torch::Tensor LlamaModel::attend(int index, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 bool bf16Products) const {
  return attendImpl(index, q, k, v, 0, nullptr, bf16Products);
}

torch::Tensor LlamaModel::attendImpl(int index, torch::Tensor q, torch::Tensor k, torch::Tensor v, int64_t pos0,
                                     KvCache* cache, bool bf16Products) const {
  const auto& c = m_w.config;
  const int64_t B = q.size(0), T = q.size(1), H = c.numHeads, Hkv = c.numKvHeads, hd = c.headDim;
  q = q.view({B, T, H, hd}).transpose(1, 2);    // [B, H, T, hd]
  k = k.view({B, T, Hkv, hd}).transpose(1, 2);  // [B, Hkv, T, hd]
  v = v.view({B, T, Hkv, hd}).transpose(1, 2);  // [B, Hkv, T, hd]
  const RopeTables& r = rope(pos0 + T);
  auto cos = r.cos.narrow(0, pos0, T);  // [T, hd]
  auto sin = r.sin.narrow(0, pos0, T);
  q = q * cos + rotateHalf(q) * sin;
  k = k * cos + rotateHalf(k) * sin;

  int64_t S = T;  // key length
  if (cache) {
    DUO_CHECK(pos0 + T <= cache->maxLen, "decode: position ", pos0 + T, " exceeds the cache length ", cache->maxLen);
    cache->k[static_cast<size_t>(index)].narrow(2, pos0, T).copy_(k);
    cache->v[static_cast<size_t>(index)].narrow(2, pos0, T).copy_(v);
    S = pos0 + T;
    k = cache->k[static_cast<size_t>(index)].narrow(2, 0, S);
    v = cache->v[static_cast<size_t>(index)].narrow(2, 0, S);
  }
  // GQA: each kv head serves H/Hkv query heads. Group queries instead of repeating k/v. The scale
  // goes on q (small) rather than on the scores, and a prompt's scores are formed one sequence at a
  // time: [Hkv, T*g, S] per sequence instead of [B, Hkv, T*g, S] keeps each buffer under glibc's
  // mmap threshold (a 4 x 512-token prefill of SmolLM2 would otherwise map and fault in 38 MB per
  // temporary, per layer).
  const int64_t g = H / Hkv;
  const int64_t window = c.windowOf(index);  // 0: full causal attention
  torch::Tensor out;
  if (T == 1) {
    auto qg = (q * (1.0 / std::sqrt(static_cast<double>(hd)))).reshape({B, Hkv, g, hd});  // [B, Hkv, g, hd]
    if (window > 0 && S > window) {  // the one query sees its last `window` keys only
      k = k.narrow(2, S - window, window);
      v = v.narrow(2, S - window, window);
    }
    auto probs = torch::softmax(torch::matmul(qg, k.transpose(-2, -1)), -1);  // [B, Hkv, g, S]
    out = torch::matmul(probs, v);                                            // [B, Hkv, g, hd]
    return out.reshape({B, T, H * hd});
  }
  // A prompt: the grouped queries ordered by position, then head within the group (row t*g + j),
  // so that the queries of positions [t0, t1) are rows [t0*g, t1*g). Causal: the query at position
  // pos0+t sees keys 0..pos0+t; with a sliding window W only pos0+t-W < key <= pos0+t
  // (transformers' sliding_window mask: kv_idx > q_idx - W). Queries go in blocks of kQueryBlock
  // positions, each against the keys up to its last position only: the scores above the diagonal
  // blocks are never formed (at T = 256, 3/4 of the products and of the softmax's entries; at
  // 2048, 9/16).
  constexpr int64_t kQueryBlock = 128;
  auto qg = (q * (1.0 / std::sqrt(static_cast<double>(hd))))
                .view({B, Hkv, g, T, hd})
                .transpose(2, 3)
                .reshape({B, Hkv, T * g, hd});  // [B, Hkv, T*g, hd]
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(m_device);
  auto qpos = torch::arange(pos0, pos0 + T, lopt).repeat_interleave(g);  // [T*g] each row's position
  auto kpos = torch::arange(0, S, lopt);
  auto mask = kpos.unsqueeze(0) > qpos.unsqueeze(1);  // [T*g, S] bool
  if (window > 0 && pos0 + T > window) mask = mask | (kpos.unsqueeze(0) <= qpos.unsqueeze(1) - window);
  out = torch::empty({B, Hkv, T * g, hd}, qg.options());
  // On the CPU the (sequence, query block) units go to the threads whole, each computed single-
  // threaded (OpenBLAS and LibTorch run one thread inside a parallel region), instead of each of
  // their small products being split over the threads: SparseGPT on SmolLM2 at 64 x 256 windows
  // spent 8.2 s in attention against 6.8 s this way. Each row's values come from the same
  // operations either way.
  const int64_t blocks = (T + kQueryBlock - 1) / kQueryBlock;
  // bf16 products (f32 results, f32 softmax): q, k and v rounded once; each block's products on
  // oneDNN, the weighted sum written straight into `out`.
  const bool bf16 = bf16Products && qg.scalar_type() == torch::kFloat32 && bf16ProductsUnrounded(m_device);
  const torch::Tensor qg16 = bf16 ? qg.to(torch::kBFloat16) : torch::Tensor();
  const torch::Tensor k16 = bf16 ? k.to(torch::kBFloat16) : torch::Tensor();
  const torch::Tensor v16 = bf16 ? v.to(torch::kBFloat16) : torch::Tensor();
  // Without a sliding window only the block's own keys [pos0 + t0, pos0 + t1) can be masked: the
  // mask is applied to those columns alone.
  const bool diagonalMask = !(window > 0 && pos0 + T > window);
  auto attendBlock = [&](int64_t unit) {
    const int64_t b = unit / blocks, t0 = (unit % blocks) * kQueryBlock;
    const int64_t t1 = std::min(T, t0 + kQueryBlock), keys = pos0 + t1;
    const int64_t r0 = t0 * g, rows = (t1 - t0) * g;
    const int64_t m0 = diagonalMask ? pos0 + t0 : 0;  // the first key column that can be masked
    torch::Tensor scores;                             // [Hkv, rows, keys]
    if (bf16) {
      scores = torch::empty({Hkv, rows, keys}, qg.options());
      bmmF32Into(qg16[b].narrow(1, r0, rows), k16[b].narrow(1, 0, keys).transpose(-2, -1), scores);
    } else {
      scores = torch::matmul(qg[b].narrow(1, r0, rows), k[b].narrow(1, 0, keys).transpose(-2, -1));
    }
    scores.narrow(2, m0, keys - m0)
        .masked_fill_(mask.narrow(0, r0, rows).narrow(1, m0, keys - m0), -std::numeric_limits<float>::infinity());
    if (bf16)
      bmmF32Into(torch::softmax(scores, -1).to(torch::kBFloat16), v16[b].narrow(1, 0, keys), out[b].narrow(1, r0, rows));
    else
      out[b].narrow(1, r0, rows).copy_(torch::matmul(torch::softmax(scores, -1), v[b].narrow(1, 0, keys)));
  };
  if (m_device.is_cpu() && B * blocks > 1) {
    const at::ThreadLocalState caller;  // grad and inference modes hold on the other threads too
    at::parallel_for(0, B * blocks, 1, [&](int64_t u0, int64_t u1) {
      const at::ThreadLocalStateGuard same(caller);
      for (int64_t u = u0; u < u1; ++u) attendBlock(u);
    });
  } else {
    for (int64_t u = 0; u < B * blocks; ++u) attendBlock(u);
  }
  return out.view({B, Hkv, T, g, hd}).permute({0, 2, 1, 3, 4}).reshape({B, T, H * hd});  // [B, T, qDim]
}

torch::Tensor LlamaModel::swiglu(const torch::Tensor& gate, const torch::Tensor& up) { return torch::silu(gate) * up; }

torch::Tensor LlamaModel::attnInput(const LayerWeights& lw, const torch::Tensor& h) const {
  return rmsNorm(h, lw.attnNorm, m_w.config.rmsNormEps);
}

torch::Tensor LlamaModel::mlpInput(const LayerWeights& lw, const torch::Tensor& h1) const {
  return rmsNorm(h1, lw.mlpNorm, m_w.config.rmsNormEps);
}

torch::Tensor LlamaModel::projection(int index, const LayerWeights& lw, Proj p, const torch::Tensor& x) const {
  return project(index, lw, p, x, false);
}

torch::Tensor LlamaModel::mlp(int index, const LayerWeights& lw, const torch::Tensor& x, const InputHook& hook,
                              bool decode) const {
  torch::Tensor xin = hook ? hook(index, Site::GateUp, x) : x;                  // [B, T, d]
  auto gate = project(index, lw, Proj::Gate, xin, decode);                      // [B, T, ffn]
  auto up = project(index, lw, Proj::Up, xin, decode);                          // [B, T, ffn]
  auto act = swiglu(gate, up);                                                  // [B, T, ffn]
  torch::Tensor din = hook ? hook(index, Site::Down, act) : act;
  return project(index, lw, Proj::Down, din, decode);                           // [B, T, d]
}

torch::Tensor LlamaModel::layerImpl(int index, const LayerWeights& lw, const torch::Tensor& h, int64_t pos0,
                                    KvCache* cache, const InputHook& hook, bool decode) const {
  auto a = attention(index, lw, attnInput(lw, h), pos0, cache, hook, decode);
  auto h1 = h + a;
  return h1 + mlp(index, lw, mlpInput(lw, h1), hook, decode);
}

torch::Tensor LlamaModel::layer(int index, const torch::Tensor& h, const InputHook& hook,
                                const LayerWeights* override) const {
  DUO_ASSERT(index >= 0 && index < static_cast<int>(m_w.layers.size()));
  const LayerWeights& lw = override ? *override : m_w.layers[static_cast<size_t>(index)];
  return layerImpl(index, lw, h, 0, nullptr, hook, false);
}

torch::Tensor LlamaModel::forward(const torch::Tensor& tokens, const InputHook& hook) const {
  DUO_CHECK(tokens.dim() == 2, "forward: expected tokens [batch, seq], got ", tokens.dim(), " dimensions");
  auto h = embed(tokens);
  for (int i = 0; i < static_cast<int>(m_w.layers.size()); ++i) h = layer(i, h, hook);
  return head(h);
}

KvCache LlamaModel::newCache(int64_t batch, int64_t maxLen) const {
  const auto& c = m_w.config;
  KvCache cache;
  cache.maxLen = maxLen;
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(m_device);
  for (int64_t i = 0; i < c.numLayers; ++i) {
    cache.k.push_back(torch::zeros({batch, c.numKvHeads, maxLen, c.headDim}, opts));
    cache.v.push_back(torch::zeros({batch, c.numKvHeads, maxLen, c.headDim}, opts));
  }
  rope(maxLen);
  return cache;
}

torch::Tensor LlamaModel::decodeStep(KvCache& cache, const torch::Tensor& tokens, const InputHook& hook) const {
  DUO_CHECK(tokens.dim() == 2, "decode: expected tokens [batch, T], got ", tokens.dim(), " dimensions");
  if (tokens.size(1) == 1 && m_decodeStepOverride) {
    auto y = m_decodeStepOverride(cache, tokens);
    if (y.defined()) return y;  // [B, vocab]
  }
  auto h = embed(tokens);  // [B, T, d]
  const int64_t pos0 = cache.length;
  const bool single = tokens.size(1) == 1;
  for (int i = 0; i < static_cast<int>(m_w.layers.size()); ++i)
    h = layerImpl(i, m_w.layers[static_cast<size_t>(i)], h, pos0, &cache, hook, single);
  cache.length += tokens.size(1);
  auto last = h.narrow(1, h.size(1) - 1, 1);  // [B, 1, d]
  if (single && m_decodeHeadOverride) {
    auto y = m_decodeHeadOverride(finalNormed(last));
    if (y.defined()) return y.squeeze(1);  // [B, vocab]
  }
  return head(last).squeeze(1);  // [B, vocab]
}

}  // namespace duo
