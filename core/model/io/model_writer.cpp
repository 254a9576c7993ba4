#include "core/model/io/model_writer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/hf_config.h"
#include "core/model/io/tensor_names.h"

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

}  // namespace

void saveSafetensors(const std::string& path, const NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata, const ProgressFn& progress) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::vector<torch::Tensor> data;  // each [numel] f32 contiguous CPU
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DUO_CHECK(!name.empty() && name != "__metadata__", path, ": invalid tensor name '", name, "'");
    DUO_CHECK(names.insert(name).second, path, ": tensor '", name, "' given twice");
    DUO_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();  // [t.shape] f32 CPU
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section starts 8-aligned
  const uint64_t n = text.size();
  writeFileAtomic(path, [&](std::ostream& os) {
    os.write(reinterpret_cast<const char*>(&n), 8);  // little-endian u64
    os.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (size_t i = 0; i < data.size(); ++i) {
      reportProgress(progress, {"save", tensors[i].first, static_cast<int64_t>(i), static_cast<int64_t>(data.size())});
      os.write(reinterpret_cast<const char*>(data[i].data_ptr<float>()),
               static_cast<std::streamsize>(data[i].numel() * 4));
      DUO_CHECK(os.good(), path, ": write failed (disk full?)");
    }
  });
}

NamedTensors hfNamedTensors(const LlamaWeights& w) {
  const ModelConfig& c = w.config;
  NamedTensors out;
  for (const TensorSlot& slot : modelSlots(c)) {
    torch::Tensor t;
    const LayerWeights* layer = slot.layer >= 0 ? &w.layers.at(static_cast<size_t>(slot.layer)) : nullptr;
    switch (slot.kind) {
      case TensorKind::Embed: t = w.embed; break;
      case TensorKind::FinalNorm: t = w.finalNorm; break;
      case TensorKind::LmHead: t = w.lmHead; break;
      case TensorKind::AttnNorm: t = layer->attnNorm; break;
      case TensorKind::MlpNorm: t = layer->mlpNorm; break;
      case TensorKind::Proj: t = layer->w(slot.proj); break;
      case TensorKind::QBias: t = layer->qBias; break;
      case TensorKind::KBias: t = layer->kBias; break;
      case TensorKind::VBias: t = layer->vBias; break;
    }
    const std::string name = tensorName(NameFormat::Hf, slot);
    DUO_CHECK(t.defined(), "saving weights: tensor '", name, "' is missing");
    const std::vector<int64_t> want = expectedShape(c, slot);
    DUO_CHECK(t.sizes().vec() == want, "saving weights: tensor '", name, "': expected ", shapeString(want), ", got ",
              shapeString(t.sizes().vec()));
    out.emplace_back(name, t);
  }
  return out;
}

void saveHfCheckpoint(const LlamaWeights& w, const std::string& outDir, const nlohmann::json& extraConfig,
                      const std::string& tokenizerSource, const ProgressFn& progress) {
  DUO_CHECK(extraConfig.is_null() || extraConfig.is_object(), outDir, ": extra config must be a JSON object");
  DUO_CHECK(tokenizerSource.empty() || fs::is_regular_file(tokenizerSource), tokenizerSource,
            ": tokenizer file to copy is missing");
  const fs::path target = fs::absolute(fs::path(outDir)).lexically_normal();
  DUO_CHECK(!target.filename().empty(), outDir, ": not a folder name");
  DUO_CHECK(!fs::exists(target) || fs::is_directory(target), outDir, ": exists and is not a folder");
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  DUO_CHECK(!ec, target.parent_path().string(), ": cannot create folder: ", ec.message());

  const fs::path tmp = siblingTemp(target, "partial");
  fs::create_directory(tmp, ec);
  DUO_CHECK(!ec, tmp.string(), ": cannot create folder: ", ec.message());
  try {
    // An lm_head tied in the config but edited apart from embed must be saved untied.
    LlamaWeights copy;
    const LlamaWeights* src = &w;
    if (w.config.tieWordEmbeddings && w.lmHead.defined() && !w.lmHead.is_same(w.embed) &&
        !torch::equal(w.lmHead, w.embed)) {
      copy = w;
      copy.config.tieWordEmbeddings = false;
      src = &copy;
    }
    nlohmann::json config = hfConfigJson(src->config);
    if (extraConfig.is_object()) config.update(extraConfig);
    writeFileAtomic((tmp / "config.json").string(), config.dump(2) + "\n");
    saveSafetensors((tmp / "model.safetensors").string(), hfNamedTensors(*src), {{"format", "pt"}}, progress);
    if (!tokenizerSource.empty()) {
      const fs::path dst = tmp / fs::path(tokenizerSource).filename();
      fs::copy_file(tokenizerSource, dst, fs::copy_options::overwrite_existing, ec);
      DUO_CHECK(!ec, dst.string(), ": cannot copy tokenizer from ", tokenizerSource, ": ", ec.message());
    }
    reportProgress(progress, {"save", "rename", 1, 1});
    // Swap into place: move an old folder aside first, then drop it once the new one is there.
    fs::path old;
    if (fs::exists(target)) {
      old = siblingTemp(target, "old");
      fs::rename(target, old, ec);
      DUO_CHECK(!ec, target.string(), ": cannot move the existing folder aside: ", ec.message());
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      if (!old.empty()) fs::rename(old, target);
      fail(target.string(), ": cannot rename ", tmp.string(), " into place: ", ec.message());
    }
    if (!old.empty()) fs::remove_all(old, ec);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace duo
