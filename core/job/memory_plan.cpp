// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/job/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/common/error.h"

namespace duo {

namespace {

// The process before any model is touched: LibTorch, OpenBLAS, the tokenizer and the code. Measured
// as `duoscope-cli prune --plan`'s resident set on this project's machine (docs/results.md).
constexpr int64_t kRuntimeBytes = 512ll << 20;

std::string gib(int64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / double(1ll << 30));
  return buf;
}

int64_t layerParams(const ModelConfig& c) {
  const int64_t d = c.hiddenSize;
  int64_t n = c.qDim() * d + 2 * c.kvDim() * d + d * c.qDim() + 3 * c.intermediateSize * d + 2 * d;
  if (c.attentionBias) n += c.qDim() + 2 * c.kvDim();
  return n;
}

int64_t readCgroupValue(const char* path) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s == "max") return -1;
  return std::stoll(s);
}

}  // namespace

int64_t availableMemoryBytes(std::string* from) {
  int64_t avail = 0;
  std::string src;
  std::ifstream mi("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (mi >> key >> kb) {
    std::getline(mi, unit);
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      src = "MemAvailable";
      break;
    }
  }
  const int64_t limit = readCgroupValue("/sys/fs/cgroup/memory.max");
  const int64_t used = readCgroupValue("/sys/fs/cgroup/memory.current");
  if (limit > 0 && used >= 0 && (avail == 0 || limit - used < avail)) {
    avail = std::max<int64_t>(0, limit - used);
    src = "cgroup memory.max";
  }
  if (from) *from = src;
  return avail;
}

MemoryPlan planMemory(const MemoryPlanInput& in) {
  const ModelConfig& c = in.config;
  const int64_t d = c.hiddenSize, ffn = c.intermediateSize, V = c.vocabSize;
  MemoryPlan p;
  p.job = in.job;
  p.model = in.model;
  auto add = [&](const char* key, const std::string& what, int64_t bytes) { p.terms.push_back({key, what, bytes}); };
  auto n2s = [](int64_t v) { return std::to_string(v); };

  add("runtime", "LibTorch, BLAS and the program", kRuntimeBytes);
  const int64_t tables = c.tieWordEmbeddings ? 1 : 2;
  add("embedding", n2s(tables) + " x vocab " + n2s(V) + " x hidden " + n2s(d) + " x " + n2s(in.sourceBytes) + " B",
      tables * V * d * in.sourceBytes);
  const int64_t lp = layerParams(c);
  const bool calibrating = in.job != "eval" && in.nsamples > 0 && in.seqlen > 0;
  if (in.job == "eval") {
    add("layer", n2s(lp) + " parameters x (4 B f32 + " + n2s(in.sourceBytes) + " B read)", lp * (4 + in.sourceBytes));
  } else {
    add("layer", n2s(lp) + " parameters x (2 x 4 B f32 + " + n2s(in.sourceBytes) + " B read)",
        lp * (8 + in.sourceBytes));
  }
  if (calibrating) {
    const bool baseline = in.method != Method::DuoGpt && in.method != Method::SparseGptSparseIn && in.method != Method::Teal;
    const int64_t nStreams = in.job == "sensitivity" ? 1 : (baseline && in.actSparsity ? 3 : 2);
    add("streams", n2s(nStreams) + " x " + n2s(in.nsamples) + " x " + n2s(in.seqlen) + " x " + n2s(d) + " x " +
                       n2s(in.streamBytes) + " B",
        nStreams * in.nsamples * in.seqlen * d * in.streamBytes);
    const int64_t b = std::min<int64_t>(in.batchWindows, in.nsamples);
    const int64_t T = in.seqlen;
    const int64_t chunk = b * T * (3 * ffn + 6 * d) * 4 + 2 * c.numHeads * T * T * 4 + 3 * b * T * std::max(d, ffn) * 4;
    if (in.job == "sensitivity") {
      const int64_t sites = in.nsamples * T * (3 * d + ffn) * 4;  // the 4 sites' inputs, all tokens
      add("forward", "one chunk of " + n2s(b) + " windows + the 4 sites' inputs of all tokens", chunk + sites);
    } else if (in.keepSiteInputs) {
      // Each stream keeps every window's input at the current site and at the next one, and the
      // residual after attention (the widest pair: the Down site's ffn beside the GateUp site's d).
      const int64_t sites = nStreams * in.nsamples * T * (ffn + 2 * d) * 4;
      add("forward", "one chunk of " + n2s(b) + " windows + " + n2s(nStreams) +
                         " x all tokens' site inputs (ffn + 2 x hidden f32)",
          chunk + sites);
    } else {
      add("forward", "one chunk of " + n2s(b) + " windows (site inputs recomputed per group)", chunk);
    }
    // The largest site's statistics (k^2 each; Wanda only the diagonal) and the OBS solver's factor
    // (k^2) plus four copies of the largest weight matrix (W, the working copy, the error block and
    // the mask).
    const int64_t k = std::max({d, c.qDim(), ffn});
    const int64_t nk = ffn * d;
    const bool obs = in.method == Method::DuoGpt || in.method == Method::SparseGpt ||
                     in.method == Method::SparseGptSparseIn;
    const int64_t mats = in.method == Method::DuoGpt ? 2 : obs ? 1 : 0;
    // The matrices are summed in f64 (8 k^2 bytes each) and converted to f32 one at a time when
    // read (an f32 copy beside the sums), then the factor: the larger of the two phases.
    // The sensitivity sweep keeps H, M and A (its errors come from the statistics) and a factor.
    const int64_t bytesPerK2 =
        in.job == "sensitivity" ? 16 : mats == 0 ? 0 : std::max<int64_t>(mats * 8 + 4, (mats + 1) * 4);
    add("statistics", n2s(bytesPerK2) + " bytes x k^2 (f64 sums, then f32) + 4 x " + n2s(ffn) + " x " + n2s(d) +
                          " f32, k = " + n2s(k),
        bytesPerK2 * k * k + 4 * nk * 4);
  }
  if (in.evalWindows > 0 && in.evalSeqlen > 0) {
    const int64_t streams = in.evalBoth ? 2 : 1;
    const int64_t hid = streams * in.evalWindows * in.evalSeqlen * d * 4;
    const int64_t batchLogits = std::min<int64_t>(in.evalBatch, in.evalWindows) * in.evalSeqlen * V * 4;
    const int64_t logits = batchLogits <= kHeadBatchBytes ? batchLogits : in.evalSeqlen * V * 4;
    add("evaluation", n2s(streams) + " x " + n2s(in.evalWindows) + " windows x " + n2s(in.evalSeqlen) +
                          " x hidden f32 + lm_head f32 + 3 x logits f32",
        hid + V * d * 4 + 3 * logits + in.evalBatch * in.evalSeqlen * (3 * ffn + 6 * d) * 4);
  }
  for (const auto& t : p.terms) p.total += t.bytes;
  p.available = availableMemoryBytes(&p.availableFrom);
  return p;
}

nlohmann::json MemoryPlan::toJson() const {
  nlohmann::json t = nlohmann::json::object();
  for (const auto& term : terms) t[term.key] = term.bytes;
  return {{"job", job},
          {"model", model},
          {"terms", t},
          {"total_bytes", total},
          {"available_bytes", available},
          {"available_from", availableFrom},
          {"fits", fits()}};
}

std::string MemoryPlan::text() const {
  std::ostringstream os;
  os << "memory plan for " << job << " of " << model << ":\n";
  for (const auto& t : terms) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-11s %10s  ", t.key.c_str(), gib(t.bytes).c_str());
    os << line << t.what << "\n";
  }
  os << "  total       " << gib(total);
  if (available > 0) os << " of " << gib(available) << " available (" << availableFrom << ")";
  os << (fits() ? "" : ": does not fit") << "\n";
  return os.str();
}

std::string MemoryPlan::refusal() const {
  std::ostringstream os;
  os << model << ": " << job << " needs about " << gib(total) << " of memory but only " << gib(available)
     << " is available (" << availableFrom << ");";
  // Name the largest terms and the flags that shrink them.
  std::vector<MemoryTerm> sorted = terms;
  std::sort(sorted.begin(), sorted.end(), [](const MemoryTerm& a, const MemoryTerm& b) { return a.bytes > b.bytes; });
  for (size_t i = 0; i < std::min<size_t>(2, sorted.size()); ++i) os << " " << sorted[i].key << " " << gib(sorted[i].bytes) << (i == 0 ? "," : "");
  os << ". To fit:";
  for (const auto& t : sorted) {
    if (t.key == "streams") os << " fewer --nsamples or a shorter --seqlen, or --stream-dtype bf16;";
    if (t.key == "evaluation") os << " fewer --max-windows or a shorter --eval-seqlen;";
    if (t.key == "forward") os << " a shorter --seqlen;";
  }
  os << " or --no-memory-check to run anyway.";
  return os.str();
}

void checkMemoryPlan(const MemoryPlan& plan) {
  if (!plan.fits()) throw Error(plan.refusal());
}

std::string chooseStreamPlacement(const MemoryPlan& plan, const std::string& flag, int64_t freeDeviceBytes) {
  DUO_CHECK(flag == "auto" || flag == "device" || flag == "host", "--stream-device '", flag,
            "' is not auto, device or host");
  if (flag != "auto") return flag;
  if (freeDeviceBytes < 0) return "device";
  int64_t need = 0;
  for (const auto& t : plan.terms)
    if (t.key == "layer" || t.key == "streams" || t.key == "forward" || t.key == "statistics") need += t.bytes;
  return double(need) <= 0.9 * double(freeDeviceBytes) ? "device" : "host";
}

}  // namespace duo
