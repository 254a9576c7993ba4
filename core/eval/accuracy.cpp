// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/eval/accuracy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include "core/common/error.h"

namespace duo {

namespace {
struct Request {
  size_t item = 0, choice = 0;
  std::vector<int64_t> tokens;  // context + continuation, left-truncated to the model's window + 1
  int64_t contLen = 0;          // continuation tokens at the end of `tokens`
};

std::vector<int64_t> toI64(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

Request makeRequest(const Tokenizer& tok, const McItem& item, size_t i, size_t c, int64_t maxLen,
                    const std::string& where) {
  std::string context = item.contextOf(c), cont = item.choices[c];
  // lm-eval: trailing spaces of the context belong to the continuation.
  const size_t keep = context.find_last_not_of(' ');
  const size_t spaces = keep == std::string::npos ? context.size() : context.size() - keep - 1;
  if (spaces > 0) {
    cont = context.substr(context.size() - spaces) + cont;
    context.resize(context.size() - spaces);
  }
  Request r;
  r.item = i;
  r.choice = c;
  std::vector<int64_t> ctx, whole;
  if (context.empty()) {
    const int32_t start = tok.bosId() >= 0 ? tok.bosId() : tok.eosId();
    DUO_CHECK(start >= 0, where, ": empty context and the tokenizer has no BOS/EOS token to start from");
    ctx = {start};
    whole = ctx;
    const auto contIds = toI64(tok.encode(cont, false));
    whole.insert(whole.end(), contIds.begin(), contIds.end());
  } else {
    ctx = toI64(tok.encode(context, false));
    whole = toI64(tok.encode(context + cont, false));
  }
  r.contLen = static_cast<int64_t>(whole.size()) - static_cast<int64_t>(ctx.size());
  DUO_CHECK(r.contLen > 0, where, ": choice ", c, " adds no tokens to the context");
  DUO_CHECK(r.contLen <= maxLen, where, ": choice ", c, " has ", r.contLen, " tokens, more than the model's window ",
            maxLen);
  // The model sees at most maxLen inputs; the last token is only a target.
  if (static_cast<int64_t>(whole.size()) > maxLen + 1) whole.erase(whole.begin(), whole.end() - (maxLen + 1));
  r.tokens = std::move(whole);
  return r;
}
}  // namespace

double binaryMeanStderr(double p, int64_t n) {
  if (n < 2) return 0.0;
  return std::sqrt(std::max(0.0, p * (1.0 - p)) / static_cast<double>(n - 1));
}

nlohmann::json AccuracyResult::toJson() const {
  return {{"task", task},         {"items", items},       {"acc", acc},
          {"acc_stderr", accStderr}, {"acc_norm", accNorm}, {"acc_norm_stderr", accNormStderr}};
}

// One forward batch of requests: inputs right-padded, and the positions whose next token is scored.
struct McBatch {
  torch::Tensor input;                    // [b, len] i64, right-padded with id 0
  std::vector<int64_t> rowIdx, posIdx;    // one entry per scored continuation token
  std::vector<int64_t> target;            // the token each entry predicts
  std::vector<size_t> request;            // [b] request index of each row
};

struct AccuracyWalk::Impl {
  const McTask* task = nullptr;
  std::vector<Request> reqs;
  std::vector<McBatch> batches;
  size_t first = 0;  // index of the first batch in a LayerwiseBatches
  int64_t totalRequests = 0;
};

AccuracyWalk::AccuracyWalk(const Tokenizer& tokenizer, const McTask& task, int64_t maxPositions, int batch)
    : m(std::make_shared<Impl>()) {
  DUO_CHECK(batch >= 1, "accuracy: batch ", batch, " must be at least 1");
  DUO_CHECK(!task.items.empty(), "accuracy: task '", task.name, "' has no items");
  m->task = &task;
  const int64_t maxLen = std::max<int64_t>(2, maxPositions);
  const std::string src = task.path.empty() ? task.name : task.path;
  for (size_t i = 0; i < task.items.size(); ++i)
    for (size_t c = 0; c < task.items[i].choices.size(); ++c)
      m->reqs.push_back(makeRequest(tokenizer, task.items[i], i, c, maxLen, src + ": item " + std::to_string(i + 1)));
  // Longest first: batches hold similar lengths (little padding), and a too-long batch fails early.
  std::vector<size_t> order(m->reqs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return m->reqs[a].tokens.size() > m->reqs[b].tokens.size(); });
  const int64_t total = static_cast<int64_t>(m->reqs.size());
  m->totalRequests = total;
  for (int64_t s = 0; s < total; s += batch) {
    const int64_t b = std::min<int64_t>(batch, total - s);
    const int64_t len = static_cast<int64_t>(m->reqs[order[static_cast<size_t>(s)]].tokens.size()) - 1;  // inputs
    McBatch mb;
    mb.input = torch::zeros({b, len}, torch::kLong);
    auto acc = mb.input.accessor<int64_t, 2>();
    for (int64_t k = 0; k < b; ++k) {
      const size_t ri = order[static_cast<size_t>(s + k)];
      const Request& r = m->reqs[ri];
      mb.request.push_back(ri);
      const int64_t n = static_cast<int64_t>(r.tokens.size());
      for (int64_t t = 0; t + 1 < n; ++t) acc[k][t] = r.tokens[static_cast<size_t>(t)];
      for (int64_t t = n - 1 - r.contLen; t < n - 1; ++t) {  // position t predicts token t + 1
        mb.rowIdx.push_back(k);
        mb.posIdx.push_back(t);
        mb.target.push_back(r.tokens[static_cast<size_t>(t + 1)]);
      }
    }
    m->batches.push_back(std::move(mb));
  }
}

void AccuracyWalk::addTo(LayerwiseBatches& batches) {
  m->first = batches.size();
  for (const McBatch& b : m->batches) batches.add(b.input);
}

namespace {

// Adds the batch's continuation log-probabilities to res.logLik. h [b, len, d] f32: the hidden
// states after the last layer; logits(x [N, d]) -> [N, V] f32.
void scoreBatch(const McBatch& mb, const std::vector<Request>& reqs, const torch::Tensor& h,
                const std::function<torch::Tensor(const torch::Tensor&)>& logits, AccuracyResult& res) {
  const auto dev = h.device();
  auto rows = torch::tensor(mb.rowIdx, torch::kLong).to(dev);             // [N] i64
  auto pos = torch::tensor(mb.posIdx, torch::kLong).to(dev);              // [N] i64
  auto sel = h.index({rows, pos});                                        // [N, d] f32
  auto logp = torch::log_softmax(logits(sel), -1);                        // [N, V] f32
  auto tok = torch::tensor(mb.target, torch::kLong).to(dev).unsqueeze(-1);  // [N, 1] i64
  auto lp = logp.gather(-1, tok).squeeze(-1).to(torch::kFloat64).cpu();   // [N] f64
  auto lpa = lp.accessor<double, 1>();
  for (size_t e = 0; e < mb.rowIdx.size(); ++e) {
    const Request& r = reqs[mb.request[static_cast<size_t>(mb.rowIdx[e])]];
    res.logLik[r.item][r.choice] += lpa[static_cast<int64_t>(e)];
  }
}

AccuracyResult emptyResult(const McTask& task) {
  AccuracyResult res;
  res.task = task.name;
  res.items = static_cast<int64_t>(task.items.size());
  res.logLik.resize(task.items.size());
  for (size_t i = 0; i < task.items.size(); ++i) res.logLik[i].assign(task.items[i].choices.size(), 0.0);
  return res;
}

// acc / acc_norm and their standard errors from the summed log-likelihoods.
void decide(const McTask& task, AccuracyResult& res) {
  double hits = 0, hitsNorm = 0;
  for (size_t i = 0; i < task.items.size(); ++i) {
    const McItem& item = task.items[i];
    int best = 0, bestNorm = 0;
    double bestNormScore = 0;
    for (size_t c = 0; c < item.choices.size(); ++c) {
      const double ll = res.logLik[i][c];
      const double norm = ll / static_cast<double>(item.choices[c].size());  // per byte
      if (c == 0 || ll > res.logLik[i][static_cast<size_t>(best)]) best = static_cast<int>(c);
      if (c == 0 || norm > bestNormScore) bestNorm = static_cast<int>(c), bestNormScore = norm;
    }
    res.pred.push_back(best);
    res.predNorm.push_back(bestNorm);
    hits += best == item.gold;
    hitsNorm += bestNorm == item.gold;
  }
  const double n = static_cast<double>(res.items);
  res.acc = hits / n;
  res.accNorm = hitsNorm / n;
  res.accStderr = binaryMeanStderr(res.acc, res.items);
  res.accNormStderr = binaryMeanStderr(res.accNorm, res.items);
}

}  // namespace

AccuracyResult AccuracyWalk::score(const LayerwiseBatches& batches) const {
  torch::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  AccuracyResult res = emptyResult(*m->task);
  for (size_t i = 0; i < m->batches.size(); ++i)
    scoreBatch(m->batches[i], m->reqs, batches.hidden(m->first + i),
               [&](const torch::Tensor& x) { return batches.logits(x); }, res);
  decide(*m->task, res);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

AccuracyResult evalAccuracy(const LlamaModel& model, const Tokenizer& tokenizer, const McTask& task,
                            const InputHook& hook, int batch, const ProgressFn& progress) {
  torch::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  const AccuracyWalk walk(tokenizer, task, model.config().maxPositions, batch);
  AccuracyResult res = emptyResult(task);
  const int64_t total = walk.m->totalRequests;
  int64_t done = 0;
  for (const McBatch& mb : walk.m->batches) {
    reportProgress(progress, {"eval", "accuracy", done, total});
    auto h = model.embed(mb.input);  // [b, len, d] f32
    for (int l = 0; l < static_cast<int>(model.config().numLayers); ++l) h = model.layer(l, h, hook);
    scoreBatch(mb, walk.m->reqs, h, [&](const torch::Tensor& x) { return model.head(x.unsqueeze(0)).squeeze(0); }, res);
    done += mb.input.size(0);
  }
  reportProgress(progress, {"eval", "accuracy", total, total});
  decide(task, res);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace duo
