// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/bench/forward_bench.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/bench/bench_common.h"
#include "core/common/error.h"
#include "core/data/corpus.h"
#include "core/engine/packed_decode.h"
#include "core/model/model_loader.h"

namespace duo::perf {

namespace {

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// [batch, seqlen] i64 ids: the first batch * seqlen tokens of kjv:eval when cached, else a fixed draw.
torch::Tensor inputIds(const LoadedModel& m, int batch, int seqlen, std::string* source) {
  const int64_t need = static_cast<int64_t>(batch) * seqlen;
  try {
    const CorpusText corpus = loadCorpus("kjv:eval");
    // ~4 bytes per token: twice what is needed.
    const auto ids = m.tokenizer->encode(corpus.text.substr(0, static_cast<size_t>(need) * 8), false);
    if (static_cast<int64_t>(ids.size()) >= need) {
      *source = "corpus";
      auto t = torch::empty({need}, torch::kLong);  // [B * T] i64
      int64_t* p = t.data_ptr<int64_t>();
      for (int64_t i = 0; i < need; ++i) p[i] = static_cast<int64_t>(ids[static_cast<size_t>(i)]);
      return t.view({batch, seqlen});
    }
  } catch (const std::exception&) {
    // corpus not cached: fall through to the fixed draw
  }
  *source = "random";
  torch::manual_seed(0);
  return torch::randint(100, m.model->config().vocabSize, {batch, seqlen}, torch::kLong);
}

}  // namespace

ForwardBenchResult runForwardBench(const ForwardBenchConfig& c, const ProgressFn& progress) {
  DUO_CHECK(c.seqlen >= 1 && c.batch >= 1 && c.decodeTokens >= 1 && c.repeats >= 1,
            "bench forward: seqlen, batch, decode tokens and repeats must be >= 1");
  ForwardBenchResult r = startRun<ForwardBenchResult>(c);
  c10::InferenceMode inference;
  reportProgress(progress, {"bench forward", "load", 0, 0});
  LoadedModel m = loadModel(c.model, torch::kCPU);
  r.model = m.info.path;
  LlamaModel& model = *m.model;
  const torch::Tensor ids = inputIds(m, c.batch, c.seqlen, &r.inputIds);  // [B, T] i64
  std::unique_ptr<PackedDecoder> kernels;
  if (c.ourKernels) {
    PackedDecoderOptions opt;
    opt.dense = true;
    kernels = std::make_unique<PackedDecoder>(model, SparsityConfig{}, ActThresholds{}, opt);
    kernels->install(model);
  }

  const int total = 2 * c.repeats;
  model.forward(ids.narrow(1, 0, std::min(64, c.seqlen)));  // warm-up: allocator, thread pool
  for (int i = 0; i < c.repeats; ++i) {
    reportProgress(progress, {"bench forward", "prefill", i, total});
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(ids);
    r.prefillSeconds.push_back(seconds(t0));
  }
  for (int i = 0; i < c.repeats; ++i) {
    reportProgress(progress, {"bench forward", "decode", c.repeats + i, total});
    KvCache cache = model.newCache(c.batch, c.seqlen + c.decodeTokens + 1);
    auto logits = model.decodeStep(cache, ids);  // [B, vocab] f32, untimed cached prefill
    auto next = logits.argmax(-1, true);         // [B, 1] i64
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < c.decodeTokens; ++s) {
      logits = model.decodeStep(cache, next);
      next = logits.argmax(-1, true);
    }
    r.decodeSeconds.push_back(seconds(t0));
  }
  if (kernels) PackedDecoder::uninstall(model);
  reportProgress(progress, {"bench forward", "done", total, total});

  const double prefillTokens = static_cast<double>(c.batch) * c.seqlen;
  const double decodeTokens = static_cast<double>(c.batch) * c.decodeTokens;
  r.prefillTokensPerSecond = prefillTokens / median(r.prefillSeconds);
  r.decodeTokensPerSecond = decodeTokens / median(r.decodeSeconds);
  r.prefillBestTokensPerSecond = prefillTokens / *std::min_element(r.prefillSeconds.begin(), r.prefillSeconds.end());
  r.decodeBestTokensPerSecond = decodeTokens / *std::min_element(r.decodeSeconds.begin(), r.decodeSeconds.end());
  r.decodeMsPerStep = 1e3 * median(r.decodeSeconds) / c.decodeTokens;
  r.loadAfter = loadAverage1m();
  return r;
}

}  // namespace duo::perf
