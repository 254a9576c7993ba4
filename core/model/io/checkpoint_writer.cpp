#include "core/model/io/checkpoint_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/hf_config.h"

namespace fs = std::filesystem;

namespace duo {

const char* torchDtypeConfigName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    default: return "?";
  }
}

namespace {

const char* safetensorsDtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "F32";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    default: return nullptr;
  }
}

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
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;  // still alive
    fs::remove_all(e.path(), ec);
  }
}

// Writes all of [p, p + n) to fd or throws naming the file (a full disk, EFBIG under a file size
// limit, EIO).
void writeAll(int fd, const void* p, size_t n, const std::string& file) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(file, ": write failed: ", std::strerror(errno));
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
}

struct PlannedTensor {
  TensorSlot slot;
  std::string name;
  std::vector<int64_t> shape;
  size_t shard = 0;
  uint64_t begin = 0, end = 0;  // relative to the shard's data section
};

struct Shard {
  std::string file;       // name inside the folder
  std::string header;     // u64 length + JSON, padded to 8 bytes
  size_t firstTensor = 0, lastTensor = 0;  // [first, last] indices into the plan
  uint64_t dataBytes = 0;
};

}  // namespace

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

  void closeShard() {
    if (fd < 0) return;
    const std::string file = (tmp / shards[plan[next - 1].shard].file).string();
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
  DUO_CHECK(safetensorsDtype(options.dtype) != nullptr, outDir, ": checkpoint dtype must be F32, F16 or BF16, got ",
            options.dtype);
  DUO_CHECK(options.maxShardBytes > 0, outDir, ": largest shard must be positive, got ", options.maxShardBytes);
  m->target = fs::absolute(fs::path(outDir)).lexically_normal();
  DUO_CHECK(!m->target.filename().empty(), outDir, ": not a folder name");
  DUO_CHECK(!fs::exists(m->target) || fs::is_directory(m->target), outDir, ": exists and is not a folder");

  // The plan: tensors in data-flow order, a new shard whenever the next tensor would overflow.
  uint64_t offset = 0;
  for (const TensorSlot& slot : modelSlots(config)) {
    PlannedTensor t;
    t.slot = slot;
    t.name = tensorName(NameFormat::Hf, slot);
    t.shape = expectedShape(config, slot);
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    const uint64_t bytes = static_cast<uint64_t>(n * elemBytes);
    if (m->shards.empty() || (offset > 0 && offset + bytes > static_cast<uint64_t>(options.maxShardBytes))) {
      m->shards.push_back({});
      m->shards.back().firstTensor = m->plan.size();
      offset = 0;
    }
    t.shard = m->shards.size() - 1;
    t.begin = offset;
    t.end = offset + bytes;
    offset = t.end;
    m->shards.back().lastTensor = m->plan.size();
    m->shards.back().dataBytes = offset;
    m->total += static_cast<int64_t>(bytes);
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
    nlohmann::ordered_json header;
    header["__metadata__"] = {{"format", "pt"}};
    for (size_t i = sh.firstTensor; i <= sh.lastTensor; ++i) {
      const PlannedTensor& t = m->plan[i];
      header[t.name] = {{"dtype", safetensorsDtype(options.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-aligned
    const uint64_t n = text.size();
    sh.header.assign(reinterpret_cast<const char*>(&n), 8);  // little-endian u64
    sh.header += text;
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
  const Shard& sh = m->shards[p.shard];
  const std::string file = (m->tmp / sh.file).string();
  if (m->next == sh.firstTensor) {  // open the shard and write its header
    m->fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    DUO_CHECK(m->fd >= 0, file, ": cannot create: ", std::strerror(errno));
    writeAll(m->fd, sh.header.data(), sh.header.size(), file);
  }
  const torch::Tensor c = t.detach().to(torch::kCPU, m->options.dtype).contiguous();  // [shape] stored dtype
  writeAll(m->fd, c.data_ptr(), static_cast<size_t>(p.end - p.begin), file);
  ++m->next;
  if (m->next - 1 == sh.lastTensor) m->closeShard();
}

void CheckpointWriter::skip(const TensorSlot& slot) {
  const std::string name = tensorName(NameFormat::Hf, slot);
  DUO_CHECK(m->next < m->plan.size() && m->plan[m->next].slot == slot, m->target.string(), ": expected tensor '",
            nextName(), "' next, got '", name, "'");
  const PlannedTensor& p = m->plan[m->next];
  const Shard& sh = m->shards[p.shard];
  const std::string file = (m->tmp / sh.file).string();
  if (m->next == sh.firstTensor) {
    m->fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    DUO_CHECK(m->fd >= 0, file, ": cannot create: ", std::strerror(errno));
    writeAll(m->fd, sh.header.data(), sh.header.size(), file);
  }
  const off_t end = static_cast<off_t>(sh.header.size() + p.end);
  DUO_CHECK(::ftruncate(m->fd, end) == 0 && ::lseek(m->fd, end, SEEK_SET) == end, file, ": cannot extend: ",
            std::strerror(errno));
  ++m->next;
  if (m->next - 1 == sh.lastTensor) m->closeShard();
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
  writeFileAtomic((m->tmp / "config.json").string(), config.dump(2) + "\n");
  if (m->shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", m->total}};
    nlohmann::ordered_json map;
    for (const PlannedTensor& t : m->plan) map[t.name] = m->shards[t.shard].file;
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
