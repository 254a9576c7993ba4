// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/checkpoint_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/common/process.h"
#include "core/common/fd_write.h"
#include "core/model/io/bitmask.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/int8_layout.h"
#include "core/model/io/weight_source.h"
#include "kernels/types.h"

namespace fs = std::filesystem;

namespace duo {

namespace {

// A sibling path of `target` that no other writer uses: <target>.<tag>-<pid>-<counter>-<time>.
std::string siblingTemp(const fs::path& target, const char* tag) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return target.string() + "." + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(now);
}

// Removes <target>.partial-<pid>-* folders whose process is gone (a crash or SIGKILL mid-write).
void removeStalePartials(const fs::path& target) {
  std::error_code ec;
  const std::string prefix = target.filename().string() + ".partial-";
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (processAlive(pid)) continue;
    fs::remove_all(e.path(), ec);
  }
}

struct PlannedTensor {
  TensorSlot slot;
  std::string name;
  std::vector<int64_t> shape;
  size_t shard = 0;
  bool compressed = false;  // a projection in the sparse-bitmask layout
  bool int8 = false;        // a projection as int8 and its per-row scales (int8_layout.h)
};

// One tensor as stored: its header entry.
struct StoredEntry {
  std::string name;
  const char* dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the shard's data section
};

struct Shard {
  std::string file;                        // name inside the folder
  size_t firstTensor = 0, lastTensor = 0;  // [first, last] indices into the plan
  uint64_t headerBytes = 0;                // reserved: 8 + the JSON's space, a multiple of 8
  uint64_t written = 0;                    // data bytes written so far
  // Every stored tensor's entry, made with the plan (names, dtypes, shapes at their largest) so
  // that writing allocates nothing that outlives a tensor: small long-lived allocations between
  // the big conversion buffers kept the heap from shrinking (peak RSS grew with depth).
  std::vector<StoredEntry> entries;
  size_t filled = 0;                       // entries [0, filled) have their final offsets
};

// A placeholder offset wider than any real one: headers reserved with it are never too small.
constexpr uint64_t kWideOffset = 99'999'999'999'999'999ull;

// The stored tensors a planned tensor becomes, with placeholder offsets: one entry, the four
// sparse-bitmask parts at their largest (every value kept), or an int8 weight's scales and integers.
std::vector<StoredEntry> widestEntries(const PlannedTensor& t, const char* dtype) {
  if (t.int8) {
    // The F32 scales first, the 1-byte integers after them (as the bitmask's bytes go last).
    const std::string scale = t.name.substr(0, t.name.size() - std::string("weight").size()) + kInt8ScaleSuffix;
    return {{scale, "F32", {t.shape[0], 1}, kWideOffset, kWideOffset},
            {t.name, "I8", t.shape, kWideOffset, kWideOffset}};
  }
  if (!t.compressed) return {{t.name, dtype, t.shape, kWideOffset, kWideOffset}};
  const std::string prefix = t.name.substr(0, t.name.size() - std::string(".weight").size());
  const int64_t rows = t.shape[0], cols = t.shape[1];
  return {{prefix + "." + kBitmaskShape, "I64", {2}, kWideOffset, kWideOffset},
          {prefix + "." + kBitmaskRowOffsets, "I64", {rows}, kWideOffset, kWideOffset},
          {prefix + "." + kBitmaskValues, dtype, {rows * cols}, kWideOffset, kWideOffset},
          {prefix + "." + kBitmaskMask, "U8", {rows, bitmaskRowBytes(cols)}, kWideOffset, kWideOffset}};
}

// The shard header's JSON text for these entries.
std::string headerText(const std::vector<StoredEntry>& entries) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  for (const StoredEntry& e : entries)
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  return header.dump();
}

}  // namespace

const char* checkpointFormatName(CheckpointFormat f) {
  return f == CheckpointFormat::SparseBitmask ? "sparse-bitmask" : "dense";
}

CheckpointFormat parseCheckpointFormat(const std::string& name, const std::string& what) {
  if (name == "dense") return CheckpointFormat::Dense;
  if (name == "sparse-bitmask") return CheckpointFormat::SparseBitmask;
  fail(what, " '", name, "' is not dense or sparse-bitmask");
}

nlohmann::json compressedTensorsSparsity(CheckpointFormat format, double globalSparsity, const std::string& structure) {
  return {{"format", checkpointFormatName(format)},
          {"global_sparsity", globalSparsity},
          {"sparsity_structure", structure},
          {"targets", {"Linear"}},
          {"ignore", {"lm_head"}},
          {"registry_requires_subclass", false}};
}

nlohmann::json checkpointSparsityConfig(CheckpointFormat format, double globalSparsity, const std::string& structure) {
  const nlohmann::json sparsity = compressedTensorsSparsity(format, globalSparsity, structure);
  if (format == CheckpointFormat::Dense) return {{"duoscope_sparsity", sparsity}};
  return {{"quantization_config",
           {{"quant_method", "compressed-tensors"}, {"version", kCompressedTensorsVersion}, {"sparsity_config", sparsity}}}};
}

struct CheckpointWriter::Impl {
  ModelConfig config;
  CheckpointWriterOptions options;
  fs::path target, tmp;
  std::vector<PlannedTensor> plan;
  std::vector<Shard> shards;
  std::vector<std::string> shardNames;
  size_t next = 0;  // index of the next tensor to put
  int fd = -1;      // the open shard, or -1
  bool committed = false;
  int64_t total = 0;

  std::string shardPath(const Shard& sh) const { return (tmp / sh.file).string(); }

  // Opens the shard of plan[next] when plan[next] is its first tensor; data starts after the
  // reserved header space.
  Shard& shardForNext() {
    const PlannedTensor& p = plan[next];
    Shard& sh = shards[p.shard];
    if (next == sh.firstTensor) {
      const std::string file = shardPath(sh);
      fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      DUO_CHECK(fd >= 0, file, ": cannot create: ", std::strerror(errno));
      DUO_CHECK(::lseek(fd, static_cast<off_t>(sh.headerBytes), SEEK_SET) == static_cast<off_t>(sh.headerBytes), file,
                ": cannot seek: ", std::strerror(errno));
    }
    return sh;
  }

  // Appends the next stored tensor's bytes to the open shard and fills in its entry (and, for a
  // sparse-bitmask values tensor, its length).
  void append(Shard& sh, const void* data, uint64_t bytes, int64_t length = -1) {
    writeAllToFd(fd, data, bytes, shardPath(sh));
    StoredEntry& e = sh.entries[sh.filled++];
    if (length >= 0) e.shape[0] = length;
    e.begin = sh.written;
    e.end = sh.written + bytes;
    sh.written += bytes;
    total += static_cast<int64_t>(bytes);
  }

  // After plan[next - 1]: writes the header over the reserved space and closes the shard when
  // that was its last tensor.
  void finishTensor() {
    Shard& sh = shards[plan[next - 1].shard];
    if (next - 1 != sh.lastTensor) return;
    const std::string file = shardPath(sh);
    std::string text = headerText(sh.entries);
    DUO_CHECK(text.size() + 8 <= sh.headerBytes, file, ": header of ", text.size(), " bytes exceeds the ",
              sh.headerBytes - 8, " reserved");
    text.append(sh.headerBytes - 8 - text.size(), ' ');  // safetensors allows trailing spaces
    const uint64_t n = text.size();
    std::string head(reinterpret_cast<const char*>(&n), 8);  // little-endian u64
    head += text;
    DUO_CHECK(::pwrite(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()), file,
              ": header write failed: ", std::strerror(errno));
    const bool ok = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    fd = -1;
    DUO_CHECK(ok, file, ": fsync failed: ", std::strerror(err));
  }
};

CheckpointWriter::CheckpointWriter(const std::string& outDir, const ModelConfig& config,
                                   const CheckpointWriterOptions& options)
    : m(std::make_unique<Impl>()) {
  m->config = config;
  m->options = options;
  const int64_t elemBytes = static_cast<int64_t>(c10::elementSize(options.dtype));
  const char* dtype = dtypeName(options.dtype);  // safetensors' dtype codes are ours
  DUO_CHECK(std::string_view(dtype) != "?", outDir, ": checkpoint dtype must be F32, F16 or BF16, got ", options.dtype);
  DUO_CHECK(options.maxShardBytes > 0, outDir, ": largest shard must be positive, got ", options.maxShardBytes);
  DUO_CHECK(!options.int8 || options.format == CheckpointFormat::Dense, outDir,
            ": int8 projections are stored dense (compressed-tensors int-quantized), not as ",
            checkpointFormatName(options.format));
  m->target = fs::absolute(fs::path(outDir)).lexically_normal();
  DUO_CHECK(!m->target.filename().empty(), outDir, ": not a folder name");
  DUO_CHECK(!fs::exists(m->target) || fs::is_directory(m->target), outDir, ": exists and is not a folder");

  // The plan: tensors in data-flow order, a new shard whenever the next tensor's largest size
  // would overflow it.
  uint64_t offset = 0;
  for (const TensorSlot& slot : modelSlots(config)) {
    PlannedTensor t;
    t.slot = slot;
    t.name = tensorName(NameFormat::Hf, slot);
    t.shape = expectedShape(config, slot);
    t.compressed = options.format == CheckpointFormat::SparseBitmask && slot.kind == TensorKind::Proj;
    t.int8 = options.int8 && slot.kind == TensorKind::Proj;
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    uint64_t bytes = static_cast<uint64_t>(n * elemBytes);
    if (t.compressed) bytes += static_cast<uint64_t>(t.shape[0] * (bitmaskRowBytes(t.shape[1]) + 8) + 16);
    if (t.int8) bytes = static_cast<uint64_t>(n + t.shape[0] * 4);  // I8 integers + F32 scales
    if (m->shards.empty() || (offset > 0 && offset + bytes > static_cast<uint64_t>(options.maxShardBytes))) {
      m->shards.push_back({});
      m->shards.back().firstTensor = m->plan.size();
      offset = 0;
    }
    t.shard = m->shards.size() - 1;
    offset += bytes;
    m->shards.back().lastTensor = m->plan.size();
    m->plan.push_back(std::move(t));
  }
  const size_t ns = m->shards.size();
  for (size_t s = 0; s < ns; ++s) {
    Shard& sh = m->shards[s];
    if (ns == 1) {
      sh.file = "model.safetensors";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, ns);
      sh.file = buf;
    }
    for (size_t i = sh.firstTensor; i <= sh.lastTensor; ++i)
      for (StoredEntry& e : widestEntries(m->plan[i], dtype)) sh.entries.push_back(std::move(e));
    const uint64_t text = headerText(sh.entries).size();
    sh.headerBytes = 8 + text + (8 - text % 8) % 8;  // the data section starts 8-aligned
    m->shardNames.push_back(sh.file);
  }

  std::error_code ec;
  fs::create_directories(m->target.parent_path(), ec);
  DUO_CHECK(!ec, m->target.parent_path().string(), ": cannot create folder: ", ec.message());
  removeStalePartials(m->target);
  m->tmp = siblingTemp(m->target, "partial");
  fs::create_directory(m->tmp, ec);
  DUO_CHECK(!ec, m->tmp.string(), ": cannot create folder: ", ec.message());
}

CheckpointWriter::~CheckpointWriter() {
  if (m->fd >= 0) ::close(m->fd);
  if (!m->committed) {
    std::error_code ec;
    fs::remove_all(m->tmp, ec);
  }
}

std::string CheckpointWriter::nextName() const { return m->next < m->plan.size() ? m->plan[m->next].name : ""; }
const std::string& CheckpointWriter::partialDir() const { return m->tmp.native(); }
const std::vector<std::string>& CheckpointWriter::shardFiles() const { return m->shardNames; }
int64_t CheckpointWriter::totalBytes() const { return m->total; }

void CheckpointWriter::put(const TensorSlot& slot, const torch::Tensor& t) {
  const std::string name = tensorName(NameFormat::Hf, slot);
  DUO_CHECK(m->next < m->plan.size(), m->target.string(), ": tensor '", name, "' given after the last one");
  const PlannedTensor& p = m->plan[m->next];
  DUO_CHECK(p.slot == slot, m->target.string(), ": expected tensor '", p.name, "' next, got '", name, "'");
  DUO_CHECK(t.defined(), m->target.string(), ": tensor '", name, "' is undefined");
  DUO_CHECK(t.sizes().vec() == p.shape, m->target.string(), ": tensor '", name, "': expected ", shapeString(p.shape),
            ", got ", shapeString(t.sizes().vec()));
  Shard& sh = m->shardForNext();
  if (p.int8) {
    const int64_t rows = p.shape[0], cols = p.shape[1];
    const torch::Tensor f = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();  // [rows, cols] f32
    torch::Tensor scale = torch::empty({rows, 1}, torch::kFloat32);                   // [rows, 1] f32
    torch::Tensor q = torch::empty({rows, cols}, torch::kInt8);                       // [rows, cols] i8
    const float* w = f.data_ptr<float>();
    float* sp = scale.data_ptr<float>();
    int8_t* qp = q.data_ptr<int8_t>();
    std::atomic<int64_t> badRow{-1};
    at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* row = w + r * cols;
        for (int64_t c = 0; c < cols; ++c)
          if (!std::isfinite(row[c])) badRow = r;
        sp[r] = kernels::int8RowScale(row, cols);
        for (int64_t c = 0; c < cols; ++c) qp[r * cols + c] = kernels::quantizeInt8(row[c], sp[r]);
      }
    });
    DUO_CHECK(badRow < 0, m->target.string(), ": tensor '", name, "': row ", badRow.load(),
              " holds non-finite values, which int8 cannot store");
    // In widestEntries' order: the scales, then the integers.
    m->append(sh, sp, static_cast<uint64_t>(rows) * 4);
    m->append(sh, qp, static_cast<uint64_t>(rows * cols));
    ++m->next;
    m->finishTensor();
    return;
  }
  const torch::Tensor c = t.detach().to(torch::kCPU, m->options.dtype).contiguous();  // [shape] stored dtype
  if (!p.compressed) {
    m->append(sh, c.data_ptr(), static_cast<uint64_t>(c.nbytes()));
  } else {
    const int64_t rows = p.shape[0], cols = p.shape[1];
    const BitmaskEncoded e = bitmaskEncode(c.data_ptr(), rows, cols, static_cast<int>(c.element_size()));
    const int64_t dims[2] = {rows, cols};
    // In widestEntries' order: 8-byte parts first, the values next, the bitmask's bytes last (no
    // holes are allowed).
    m->append(sh, dims, sizeof dims);
    m->append(sh, e.rowOffsets.data(), e.rowOffsets.size() * sizeof(int64_t));
    m->append(sh, e.values.data(), e.values.size(), e.nnz);
    m->append(sh, e.mask.data(), e.mask.size());
  }
  ++m->next;
  m->finishTensor();
}

void CheckpointWriter::skip(const TensorSlot& slot) {
  const std::string name = tensorName(NameFormat::Hf, slot);
  DUO_CHECK(m->next < m->plan.size() && m->plan[m->next].slot == slot, m->target.string(), ": expected tensor '",
            nextName(), "' next, got '", name, "'");
  const PlannedTensor& p = m->plan[m->next];
  DUO_CHECK(!p.compressed, m->target.string(), ": tensor '", name, "' cannot be a hole in a sparse-bitmask checkpoint");
  DUO_CHECK(!p.int8, m->target.string(), ": tensor '", name, "' cannot be a hole in an int8 checkpoint");
  Shard& sh = m->shardForNext();
  const std::string file = m->shardPath(sh);
  int64_t n = static_cast<int64_t>(c10::elementSize(m->options.dtype));
  for (int64_t s : p.shape) n *= s;
  const off_t end = static_cast<off_t>(sh.headerBytes + sh.written + static_cast<uint64_t>(n));
  DUO_CHECK(::ftruncate(m->fd, end) == 0 && ::lseek(m->fd, end, SEEK_SET) == end, file, ": cannot extend: ",
            std::strerror(errno));
  StoredEntry& entry = sh.entries[sh.filled++];
  entry.begin = sh.written;
  entry.end = sh.written + static_cast<uint64_t>(n);
  sh.written += static_cast<uint64_t>(n);
  m->total += n;
  ++m->next;
  m->finishTensor();
}

void CheckpointWriter::putLayer(int index, const LayerWeights& layer) {
  while (m->next < m->plan.size() && m->plan[m->next].slot.layer == index) {
    const TensorSlot& s = m->plan[m->next].slot;
    switch (s.kind) {
      case TensorKind::AttnNorm: put(s, layer.attnNorm); break;
      case TensorKind::MlpNorm: put(s, layer.mlpNorm); break;
      case TensorKind::Proj: put(s, layer.w(s.proj)); break;
      case TensorKind::QBias: put(s, layer.qBias); break;
      case TensorKind::KBias: put(s, layer.kBias); break;
      case TensorKind::VBias: put(s, layer.vBias); break;
      default: fail(m->target.string(), ": tensor '", m->plan[m->next].name, "' is not part of layer ", index);
    }
  }
}

void CheckpointWriter::commit(const nlohmann::json& extraConfig, const std::string& tokenizerSource,
                              const ProgressFn& progress) {
  DUO_CHECK(m->next == m->plan.size(), m->target.string(), ": incomplete checkpoint, tensor '", nextName(),
            "' was never written");
  DUO_CHECK(extraConfig.is_null() || extraConfig.is_object(), m->target.string(), ": extra config must be a JSON object");
  DUO_CHECK(tokenizerSource.empty() || fs::is_regular_file(tokenizerSource), tokenizerSource,
            ": tokenizer file to copy is missing");
  nlohmann::json config = hfConfigJson(m->config);
  config["torch_dtype"] = torchDtypeConfigName(m->options.dtype);
  if (extraConfig.is_object()) config.update(extraConfig);
  if (m->options.int8) {
    DUO_CHECK(!config.contains("quantization_config"), m->target.string(),
              ": an int8 checkpoint's quantization_config is the int8 one; the extra config must not hold another");
    config["quantization_config"] = int8QuantizationConfig();
  }
  writeFileAtomic((m->tmp / "config.json").string(), config.dump(2) + "\n");
  if (m->shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", m->total}};
    nlohmann::ordered_json map;
    for (const Shard& sh : m->shards)
      for (const StoredEntry& e : sh.entries) map[e.name] = sh.file;
    index["weight_map"] = map;
    writeFileAtomic((m->tmp / "model.safetensors.index.json").string(), index.dump(2) + "\n");
  }
  std::error_code ec;
  if (!tokenizerSource.empty()) {
    const fs::path dst = m->tmp / fs::path(tokenizerSource).filename();
    fs::copy_file(tokenizerSource, dst, fs::copy_options::overwrite_existing, ec);
    DUO_CHECK(!ec, dst.string(), ": cannot copy tokenizer from ", tokenizerSource, ": ", ec.message());
  }
  reportProgress(progress, {"save", "rename", 1, 1});
  // Swap into place: move an old folder aside first, then drop it once the new one is there.
  fs::path old;
  if (fs::exists(m->target)) {
    old = siblingTemp(m->target, "old");
    fs::rename(m->target, old, ec);
    DUO_CHECK(!ec, m->target.string(), ": cannot move the existing folder aside: ", ec.message());
  }
  fs::rename(m->tmp, m->target, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, m->target);
    fail(m->target.string(), ": cannot rename ", m->tmp.string(), " into place: ", ec.message());
  }
  m->committed = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace duo
