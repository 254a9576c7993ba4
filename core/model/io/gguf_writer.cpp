// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/common/error.h"
#include "core/common/fd_write.h"
#include "core/model/io/dequant.h"
#include "core/model/io/gguf.h"
#include "core/model/io/gguf_model.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_info.h"
#include "core/model/io/tensor_names.h"
#include "core/model/rope.h"
#include "core/model/tokenizer/tokenizer_spm.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

constexpr uint64_t kAlignment = 32;  // GGUF's default general.alignment

// The header: metadata key/values and tensor infos in GGUF v3's little-endian encoding.
class HeaderBuilder {
 public:
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void str(const std::string& s) {
    u64(s.size());
    m_out += s;
  }
  void key(const std::string& k, GgufType t) {
    str(k);
    u32(static_cast<uint32_t>(t));
    ++m_kv;
  }
  void kvU32(const std::string& k, int64_t v) {
    key(k, GgufType::U32);
    u32(static_cast<uint32_t>(v));
  }
  void kvF32(const std::string& k, double v) {
    key(k, GgufType::F32);
    const float f = static_cast<float>(v);
    raw(&f, 4);
  }
  void kvBool(const std::string& k, bool v) {
    key(k, GgufType::Bool);
    m_out += static_cast<char>(v ? 1 : 0);
  }
  void kvStr(const std::string& k, const std::string& v) {
    key(k, GgufType::String);
    str(v);
  }
  void kvStrings(const std::string& k, const std::vector<std::string>& v) {
    key(k, GgufType::Array);
    u32(static_cast<uint32_t>(GgufType::String));
    u64(v.size());
    for (const auto& s : v) str(s);
  }
  void kvI32s(const std::string& k, const std::vector<int32_t>& v) {
    key(k, GgufType::Array);
    u32(static_cast<uint32_t>(GgufType::I32));
    u64(v.size());
    raw(v.data(), v.size() * 4);
  }
  void kvF32s(const std::string& k, const std::vector<float>& v) {
    key(k, GgufType::Array);
    u32(static_cast<uint32_t>(GgufType::F32));
    u64(v.size());
    raw(v.data(), v.size() * 4);
  }
  const std::string& bytes() const { return m_out; }
  uint64_t kvCount() const { return m_kv; }

 private:
  void raw(const void* p, size_t n) { m_out.append(static_cast<const char*>(p), n); }
  std::string m_out;
  uint64_t m_kv = 0;
};

struct PlannedTensor {
  TensorSlot slot;  // kind Embed with layer -2: rope_freqs.weight
  std::string name;
  std::vector<int64_t> shape;  // torch order
  torch::ScalarType dtype;
  uint64_t offset = 0, bytes = 0;
};

uint32_t ggmlTypeOf(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return static_cast<uint32_t>(GgmlType::F32);
    case torch::kFloat16: return static_cast<uint32_t>(GgmlType::F16);
    case torch::kBFloat16: return static_cast<uint32_t>(GgmlType::BF16);
    default: fail("GGUF export: dtype ", t, " is not F32, F16 or BF16");
  }
}

// llama.cpp's general.file_type: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
uint32_t fileTypeOf(torch::ScalarType t) { return t == torch::kFloat32 ? 0 : t == torch::kFloat16 ? 1 : 32; }

// The temp file beside the output, removed unless committed.
struct PartialFile {
  std::string path;
  int fd = -1;
  bool committed = false;
  ~PartialFile() {
    if (fd >= 0) ::close(fd);
    if (!committed) ::unlink(path.c_str());
  }
};

}  // namespace

TokenizerSpec exportTokenizerSpec(const std::string& modelPath) {
  const std::string p = resolveModelLocation(modelPath);
  if (fs::is_regular_file(p)) return ggufTokenizerSpec(p);
  const fs::path spm = fs::path(p) / "tokenizer.model";
  if (fs::exists(spm)) {
    TokenizerSpec s = spmTokenizerSpec(spm.string());
    const ModelConfig c = readHfConfig(p);  // the model's own BOS/EOS win, as when it is loaded
    if (c.bosTokenId >= 0) s.bosId = c.bosTokenId;
    if (c.eosTokenId >= 0) s.eosId = c.eosTokenId;
    return s;
  }
  return tokenizerJsonSpec(hfTokenizerPath(p));
}

GgufExportResult exportGguf(WeightSource& source, const TokenizerSpec& tokenizerIn, const std::string& outPath,
                            const GgufExportOptions& options, const ProgressFn& progress) {
  const ModelConfig& c = source.config();
  const std::string& who = source.where();
  DUO_CHECK(c.architecture == "llama" || c.architecture == "mistral" || c.architecture == "qwen2", who,
            ": architecture '", c.architecture, "' cannot be written to GGUF (llama, mistral, qwen2 can)");
  DUO_CHECK(c.slidingWindow == 0 || c.slidingWindow >= c.maxPositions, who, ": sliding_window ", c.slidingWindow,
            " is shorter than the context (", c.maxPositions,
            "): llama.cpp's GGUF architectures have no sliding window, so the GGUF would compute differently");
  DUO_CHECK(c.ropeScaling.type != "dynamic", who,
            ": rope_scaling dynamic has no GGUF form (none, linear and llama3 / rope_freqs do)");
  const std::string arch = c.architecture == "qwen2" ? "qwen2" : "llama";
  const bool permute = ggufPermutesQk(arch);
  ggmlTypeOf(options.dtype);

  TokenizerSpec tok = tokenizerIn;
  DUO_CHECK(tok.model == "gpt2" || tok.model == "llama", who, ": tokenizer model '", tok.model, "' cannot be written");
  DUO_CHECK(static_cast<int64_t>(tok.tokens.size()) <= c.vocabSize, who, ": the tokenizer has ", tok.tokens.size(),
            " tokens but the embedding only ", c.vocabSize, " rows");
  tok.tokenTypes.resize(tok.tokens.size(), 1);  // normal where the source gave none
  if (!tok.scores.empty()) tok.scores.resize(tok.tokens.size(), 0.f);
  while (static_cast<int64_t>(tok.tokens.size()) < c.vocabSize) {  // llama.cpp's converter pads likewise
    tok.tokens.push_back("[PAD" + std::to_string(tok.tokens.size()) + "]");
    tok.tokenTypes.push_back(5);  // unused
    if (!tok.scores.empty()) tok.scores.push_back(0.f);
  }

  // Metadata.
  HeaderBuilder h;
  std::string name = options.name;
  if (name.empty()) name = fs::path(who).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(who).lexically_normal().parent_path().filename().string();
  const std::string p = arch + ".";
  h.kvStr("general.architecture", arch);
  h.kvStr("general.name", name);
  h.kvU32("general.file_type", fileTypeOf(options.dtype));
  // {arch}.* hyperparameters, in the order llama.cpp's converter writes them.
  const std::pair<const char*, int64_t> shapeKeys[] = {
      {"context_length", c.maxPositions}, {"embedding_length", c.hiddenSize}, {"block_count", c.numLayers},
      {"feed_forward_length", c.intermediateSize}, {"attention.head_count", c.numHeads},
      {"attention.head_count_kv", c.numKvHeads}};
  for (const auto& [key, value] : shapeKeys) h.kvU32(p + key, value);
  if (c.headDim * c.numHeads != c.hiddenSize) {
    h.kvU32(p + "attention.key_length", c.headDim);
    h.kvU32(p + "attention.value_length", c.headDim);
  }
  h.kvU32(p + "rope.dimension_count", c.headDim);
  h.kvF32(p + "rope.freq_base", c.ropeTheta);
  h.kvF32(p + "attention.layer_norm_rms_epsilon", c.rmsNormEps);
  h.kvU32(p + "vocab_size", c.vocabSize);
  if (c.ropeScaling.type == "linear") {
    h.kvStr(p + "rope.scaling.type", "linear");
    h.kvF32(p + "rope.scaling.factor", c.ropeScaling.factor);
  }
  h.kvStr("tokenizer.ggml.model", tok.model);
  if (tok.model == "gpt2") h.kvStr("tokenizer.ggml.pre", tok.pre.empty() ? "default" : tok.pre);
  h.kvStrings("tokenizer.ggml.tokens", tok.tokens);
  if (!tok.tokenTypes.empty()) h.kvI32s("tokenizer.ggml.token_type", tok.tokenTypes);
  if (!tok.scores.empty()) h.kvF32s("tokenizer.ggml.scores", tok.scores);
  if (!tok.merges.empty()) h.kvStrings("tokenizer.ggml.merges", tok.merges);
  if (tok.bosId >= 0) h.kvU32("tokenizer.ggml.bos_token_id", tok.bosId);
  if (tok.eosId >= 0) h.kvU32("tokenizer.ggml.eos_token_id", tok.eosId);
  if (tok.unkId >= 0) h.kvU32("tokenizer.ggml.unknown_token_id", tok.unkId);
  if (tok.padId >= 0) h.kvU32("tokenizer.ggml.padding_token_id", tok.padId);
  h.kvBool("tokenizer.ggml.add_bos_token", tok.addBos);
  if (tok.model == "llama") h.kvBool("tokenizer.ggml.add_space_prefix", tok.addSpacePrefix);

  // Tensors: rope_freqs first (LLaMA-3.x), then the model's in data-flow order.
  std::vector<PlannedTensor> plan;
  torch::Tensor ropeFreqs;  // [hd/2] f32
  if (c.ropeScaling.type == "llama3" || c.ropeScaling.type == "rope_freqs") {
    ModelConfig plain = c;
    plain.ropeScaling = {};
    ropeFreqs = (ropeInvFreq(plain) / ropeInvFreq(c)).to(torch::kFloat32).contiguous();
    plan.push_back({{TensorKind::Embed, -2, Proj::Q}, kRopeFreqsTensor, {c.headDim / 2}, torch::kFloat32});
  }
  for (const TensorSlot& slot : modelSlots(c)) {
    const bool big = slot.kind == TensorKind::Embed || slot.kind == TensorKind::LmHead || slot.kind == TensorKind::Proj;
    plan.push_back({slot, tensorName(NameFormat::Gguf, slot), expectedShape(c, slot), big ? options.dtype : torch::kFloat32});
  }
  uint64_t offset = 0;
  for (PlannedTensor& t : plan) {
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    t.bytes = static_cast<uint64_t>(n) * c10::elementSize(t.dtype);
    offset = (offset + kAlignment - 1) / kAlignment * kAlignment;
    t.offset = offset;
    offset += t.bytes;
  }
  HeaderBuilder infos;
  for (const PlannedTensor& t : plan) {
    infos.str(t.name);
    infos.u32(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) infos.u64(static_cast<uint64_t>(*it));  // ne[0] innermost
    infos.u32(ggmlTypeOf(t.dtype));
    infos.u64(t.offset);
  }
  HeaderBuilder head;
  head.u32(0x46554747u);  // "GGUF"
  head.u32(3);
  head.u64(plan.size());
  head.u64(h.kvCount());
  std::string header = head.bytes() + h.bytes() + infos.bytes();
  header.append((kAlignment - header.size() % kAlignment) % kAlignment, '\0');

  // Write.
  const fs::path target = fs::absolute(fs::path(outPath)).lexically_normal();
  DUO_CHECK(!fs::is_directory(target), outPath, ": is a folder (give a .gguf file name)");
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  DUO_CHECK(!ec, target.parent_path().string(), ": cannot create folder: ", ec.message());
  static std::atomic<int> counter{0};
  PartialFile part;
  part.path = target.string() + ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  part.fd = ::open(part.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  DUO_CHECK(part.fd >= 0, part.path, ": cannot create: ", std::strerror(errno));
  writeAllToFd(part.fd, header.data(), header.size(), part.path);
  uint64_t written = 0;
  const std::string zeros(kAlignment, '\0');
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedTensor& t = plan[i];
    reportProgress(progress, {"save", t.name, static_cast<int64_t>(i), static_cast<int64_t>(plan.size())});
    writeAllToFd(part.fd, zeros.data(), t.offset - written, part.path);
    torch::Tensor x;
    if (t.slot.layer == -2) {
      x = ropeFreqs;
    } else {
      x = source.tensor(t.slot);
      if (permute && t.slot.kind == TensorKind::Proj && t.slot.proj == Proj::Q) x = permuteGgufQk(x, c.numHeads);
      if (permute && t.slot.kind == TensorKind::Proj && t.slot.proj == Proj::K) x = permuteGgufQk(x, c.numKvHeads);
    }
    const torch::Tensor y = x.to(torch::kCPU, t.dtype).contiguous();  // [shape] stored dtype
    DUO_CHECK(y.sizes().vec() == t.shape, who, ": tensor '", t.name, "': expected ", shapeString(t.shape), ", got ",
              shapeString(y.sizes().vec()));
    writeAllToFd(part.fd, y.data_ptr(), t.bytes, part.path);
    written = t.offset + t.bytes;
  }
  DUO_CHECK(::fsync(part.fd) == 0, part.path, ": fsync failed: ", std::strerror(errno));
  ::close(part.fd);
  part.fd = -1;
  fs::rename(part.path, target, ec);
  DUO_CHECK(!ec, target.string(), ": cannot rename ", part.path, " into place: ", ec.message());
  part.committed = true;
  reportProgress(progress, {"save", "done", static_cast<int64_t>(plan.size()), static_cast<int64_t>(plan.size())});

  GgufExportResult r;
  r.path = target.string();
  r.fileBytes = static_cast<int64_t>(header.size() + written);
  r.tensors = static_cast<int64_t>(plan.size());
  r.tokenizer = tok.model == "gpt2" ? "gpt2 (pre " + (tok.pre.empty() ? std::string("default") : tok.pre) + ")" : tok.model;
  return r;
}

}  // namespace duo
