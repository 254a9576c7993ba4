// SPDX-License-Identifier: GPL-3.0-or-later
// prune --out-dtype int8: the pruned checkpoint's decoder projections in compressed-tensors'
// int-quantized layout (core/model/io/int8_layout.h), written by the streamed CheckpointWriter and
// read back by every loader:
//  - the files hold I8 [out, in] weights with F32 [out, 1] weight_scale, the other tensors in the
//    source dtype, and config.json the int8 quantization_config (plus duoscope_sparsity);
//  - the kept weights reach int8 after the calibration (--int8-rounding after, the default: the f32
//    run's weights rounded, the kernels' integers of them exactly) or inside it (solve: the OBS
//    solver rounds and compensates; nearest: each solved projection rounded), so the stored
//    integers and scales are a fixed point of kernels::int8RowScale / quantizeInt8 of the values
//    the run computed, and every loader (whole model, layer by layer) gives back q * scale bit for
//    bit, the requested sparsity's zeros (and a few more from rounding) exactly zero;
//  - the run's own evaluation saw those stored values (the eval job on the checkpoint gives its
//    perplexity); perplexity at most 1% above the f32 run's (same request, --out-dtype f32);
//  - inspectModel reports the I8 tensors; a missing or misshapen weight_scale, or I8 weights
//    without a quantization_config, is an error naming the file and tensor;
//  - the CLI flag, its refusals, and a cancelled int8 prune leaving nothing behind.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/job/checkpoint_copy.h"
#include "core/job/eval_job.h"
#include "core/job/prune_job.h"
#include "core/model/io/hf_weights.h"
#include "core/model/io/loader.h"
#include "core/model/io/model_info.h"
#include "core/model/io/model_writer.h"
#include "core/model/io/tensor_names.h"
#include "core/model/io/weight_source.h"
#include "kernels/types.h"
#include "unit/expect_error.h"

namespace fs = std::filesystem;

namespace {

std::string tinyDir() { return std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }
std::string cli() { return std::getenv("DUO_CLI"); }

// Runs the CLI; returns its exit code (-1 when it did not finish), stdout and stderr.
int runCli(const QStringList& args, QByteArray* out, QByteArray* err) {
  QProcess p;
  p.start(QString::fromStdString(cli()), args);
  if (!p.waitForFinished(600000)) {
    p.kill();
    return -1;
  }
  if (out) *out = p.readAllStandardOutput();
  if (err) *err = p.readAllStandardError();
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

// Rewrites a safetensors file's header with `edit` applied (offsets are relative to the data
// section, so the data is copied unchanged behind the new header).
void editHeader(const std::string& file, const std::function<void(nlohmann::ordered_json&)>& edit) {
  const std::string bytes = duo::readFile(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  nlohmann::ordered_json header = nlohmann::ordered_json::parse(bytes.substr(8, n));
  edit(header);
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t m = text.size();
  std::string out(reinterpret_cast<const char*>(&m), 8);
  out += text;
  out.append(bytes, 8 + n, std::string::npos);
  duo::writeFileAtomic(file, out);
}

// q * scale of one f32 weight [rows, cols], row by row as the writer quantises it; also the
// integers and scales themselves.
torch::Tensor quantised(const torch::Tensor& w, torch::Tensor* qOut = nullptr, torch::Tensor* scaleOut = nullptr) {
  const torch::Tensor f = w.to(torch::kFloat32).contiguous();  // [rows, cols] f32
  const int64_t rows = f.size(0), cols = f.size(1);
  torch::Tensor out = torch::empty({rows, cols}, torch::kFloat32);  // [rows, cols] f32
  torch::Tensor q = torch::empty({rows, cols}, torch::kInt8);       // [rows, cols] i8
  torch::Tensor scale = torch::empty({rows, 1}, torch::kFloat32);   // [rows, 1] f32
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = f.data_ptr<float>() + r * cols;
    const float s = duo::kernels::int8RowScale(row, cols);
    scale.data_ptr<float>()[r] = s;
    for (int64_t c = 0; c < cols; ++c) {
      const int8_t v = duo::kernels::quantizeInt8(row[c], s);
      q.data_ptr<int8_t>()[r * cols + c] = v;
      out.data_ptr<float>()[r * cols + c] = static_cast<float>(v) * s;
    }
  }
  if (qOut) *qOut = q;
  if (scaleOut) *scaleOut = scale;
  return out;
}

// A stored tensor's bytes as a CPU tensor of `dtype` and `shape` (copied out of the map).
torch::Tensor stored(const duo::HfWeightFiles& files, const duo::HfTensorLocation& loc, torch::ScalarType dtype) {
  torch::Tensor t = torch::empty(loc.tensor->shape, dtype);
  std::memcpy(t.data_ptr(), files.files[loc.file]->tensorBytes(*loc.tensor), loc.tensor->end - loc.tensor->begin);
  return t;
}

// Folders next to `dir` whose names start with its name and ".partial-".
int partialSiblings(const std::string& dir) {
  int n = 0;
  const fs::path p(dir);
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string() + ".partial-", 0) == 0) ++n;
  return n;
}

const char* kProbe = "model.layers.1.mlp.up_proj";  // the tensor the corruption cases break

}  // namespace

class TestInt8Checkpoint : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void writesInt8Layout();
  void reloadIsStoredGridBitForBit();
  void copiesKeepTheIntegers();
  void perplexityWithinOnePercent();
  void inspectReportsInt8();
  void shardedInt8LoadsBack();
  void corruptedCheckpointsNameTheTensor();
  void cliFlagAndRefusals();
  void cancelLeavesNothing();

 private:
  // DuoGPT on the bundled model, 16 x 64 on the CPU, written to m_tmp/<out> in `dtype`, evaluated
  // on 16 windows of kjv:eval.
  duo::PruneRequest request(const QString& out, const std::string& dtype, const std::string& rounding = "after") const {
    duo::PruneRequest req;
    req.model = tinyDir();
    req.method = duo::Method::DuoGpt;
    req.nsamples = 16;
    req.seqlen = 64;
    req.seed = 3;
    req.device = "cpu";
    req.outDir = (m_tmp.path() + out).toStdString();
    req.outDtype = dtype;
    req.int8Rounding = rounding;
    req.eval = true;
    req.evalSource = "kjv:eval";
    req.maxWindows = 16;
    return req;
  }
  // A copy of the int8 checkpoint to break.
  std::string copyOfInt8(const QString& name) const {
    const std::string dst = (m_tmp.path() + "/" + name).toStdString();
    fs::copy(m_int8, dst, fs::copy_options::recursive);
    return dst;
  }

  QTemporaryDir m_tmp;
  std::string m_f32, m_int8, m_nearest, m_solve;
  duo::PruneResult m_f32Result, m_int8Result, m_nearestResult, m_solveResult;
};

void TestInt8Checkpoint::initTestCase() {
  QVERIFY(m_tmp.isValid());
  QVERIFY2(fs::exists(tinyDir() + "/config.json"), "the bundled tiny model is missing");
  const duo::PruneRequest f = request("/f32", "f32"), i = request("/int8", "int8"),
                          n = request("/int8-nearest", "int8", "nearest"), a = request("/int8-solve", "int8", "solve");
  m_f32Result = duo::runPrune(f, {});
  m_int8Result = duo::runPrune(i, {});
  m_nearestResult = duo::runPrune(n, {});
  m_solveResult = duo::runPrune(a, {});
  m_f32 = f.outDir;
  m_int8 = i.outDir;
  m_nearest = n.outDir;
  m_solve = a.outDir;
}

void TestInt8Checkpoint::writesInt8Layout() {
  QCOMPARE(m_int8Result.outDtype, std::string("I8"));
  QCOMPARE(m_int8Result.outFormat, std::string("dense"));
  QCOMPARE(m_f32Result.outDtype, std::string("F32"));
  const duo::ModelConfig cfg = duo::loadModelConfig(m_int8);
  const duo::HfWeightFiles files = duo::openHfWeights(m_int8);
  QCOMPARE(files.int8.size(), static_cast<size_t>(cfg.numLayers * duo::kNumProj));
  for (const duo::TensorSlot& slot : duo::modelSlots(cfg)) {
    const std::string name = duo::tensorName(duo::NameFormat::Hf, slot);
    const auto it = files.tensors.find(name);
    QVERIFY2(it != files.tensors.end(), name.c_str());
    const std::vector<int64_t> shape = duo::expectedShape(cfg, slot);
    QVERIFY2(it->second.tensor->shape == shape, name.c_str());
    if (slot.kind != duo::TensorKind::Proj) {  // embeddings, norms, lm_head: the source's F32
      QCOMPARE(it->second.tensor->dtype, std::string("F32"));
      continue;
    }
    QCOMPARE(it->second.tensor->dtype, std::string("I8"));
    const std::string scaleName = name.substr(0, name.size() - 6) + "weight_scale";
    const auto s = files.tensors.find(scaleName);
    QVERIFY2(s != files.tensors.end(), scaleName.c_str());
    QCOMPARE(s->second.tensor->dtype, std::string("F32"));
    QVERIFY2(s->second.tensor->shape == (std::vector<int64_t>{shape[0], 1}), scaleName.c_str());
    QVERIFY(files.isInt8Scale(scaleName));
  }
  // Nothing else in the file: the weights, their scales and the other tensors.
  QCOMPARE(files.tensors.size(), duo::modelSlots(cfg).size() + files.int8.size());

  const auto config = nlohmann::json::parse(duo::readFile(m_int8 + "/config.json"));
  QCOMPARE(config["torch_dtype"].get<std::string>(), std::string("float32"));
  QVERIFY(config.contains("duoscope_sparsity"));  // the dense layout's sparsity block, as without int8
  const nlohmann::json& q = config["quantization_config"];
  QCOMPARE(q["quant_method"].get<std::string>(), std::string("compressed-tensors"));
  QCOMPARE(q["format"].get<std::string>(), std::string("int-quantized"));
  QCOMPARE(q["quantization_status"].get<std::string>(), std::string("compressed"));
  QVERIFY(q["ignore"] == nlohmann::json::array({"lm_head"}));
  QCOMPARE(q["config_groups"].size(), size_t(1));
  const nlohmann::json& g = q["config_groups"]["group_0"];
  QVERIFY(g["targets"] == nlohmann::json::array({"Linear"}));
  QVERIFY(g["input_activations"].is_null());
  QCOMPARE(g["weights"]["num_bits"].get<int>(), 8);
  QCOMPARE(g["weights"]["type"].get<std::string>(), std::string("int"));
  QCOMPARE(g["weights"]["symmetric"].get<bool>(), true);
  QCOMPARE(g["weights"]["strategy"].get<std::string>(), std::string("channel"));
  // The run record inside the checkpoint says int8 too.
  const auto run = nlohmann::json::parse(duo::readFile(m_int8 + "/duoscope.json"));
  QCOMPARE(run["out_dtype"].get<std::string>(), std::string("I8"));
  QCOMPARE(run["options"]["int8_rounding"].get<std::string>(), std::string("after"));  // the default
  QCOMPARE(m_nearestResult.toJson()["options"]["int8_rounding"].get<std::string>(), std::string("nearest"));
  QVERIFY(!m_f32Result.toJson()["options"].contains("int8_rounding"));
  // The f32 checkpoint carries no quantization_config.
  QVERIFY(!nlohmann::json::parse(duo::readFile(m_f32 + "/config.json")).contains("quantization_config"));
}

void TestInt8Checkpoint::reloadIsStoredGridBitForBit() {
  const duo::LlamaWeights a = duo::loadWeights(m_f32);
  for (const std::string& dir : {m_int8, m_nearest, m_solve}) {
    const duo::PruneResult& run = dir == m_int8 ? m_int8Result : dir == m_nearest ? m_nearestResult : m_solveResult;
    const duo::LlamaWeights b = duo::loadWeights(dir);
    const duo::HfWeightFiles files = duo::openHfWeights(dir);
    auto streamed = duo::openWeightSource(dir);
    QCOMPARE(streamed->dtype(), torch::kFloat32);  // int8 projections decode to f32
    int64_t zeros = 0, rounded = 0;
    for (size_t l = 0; l < b.layers.size(); ++l) {
      const duo::LayerWeights one = streamed->layer(static_cast<int>(l));  // the layer-streaming path
      for (int p = 0; p < duo::kNumProj; ++p) {
        const auto proj = static_cast<duo::Proj>(p);
        const QString where = QString("%1 layer %2 %3").arg(QString::fromStdString(dir)).arg(l).arg(duo::projName(proj));
        const torch::Tensor& wi = b.layers[l].proj[static_cast<size_t>(p)];  // [out, in] f32
        // The file's integers and scales, and what every loader gives back: q * scale.
        const std::string name = duo::tensorName(duo::NameFormat::Hf, {duo::TensorKind::Proj, static_cast<int>(l), proj});
        const duo::HfInt8Weight& iw = files.int8.at(name);
        const torch::Tensor fq = stored(files, iw.weight, torch::kInt8), fs = stored(files, iw.scale, torch::kFloat32);
        const torch::Tensor want = fq.to(torch::kFloat32) * fs;  // [out, in] f32
        QVERIFY2(torch::equal(wi, want), qPrintable(where + ": loaded weights are not q * scale"));
        QVERIFY2(torch::equal(one.proj[static_cast<size_t>(p)], want), qPrintable(where + ": streamed layer differs"));
        // The values the run computed were on the kernels' grid already: quantising them again
        // gives the same integers and scales (each row has an entry at +-127).
        torch::Tensor q, scale;
        QVERIFY2(torch::equal(quantised(wi, &q, &scale), wi), qPrintable(where + ": not a fixed point"));
        QVERIFY2(torch::equal(q, fq) && torch::equal(scale, fs), qPrintable(where + ": integers or scales differ"));
        QVERIFY2(fq.abs().amax(1).eq(127).all().item<bool>(), qPrintable(where + ": a row without +-127"));
        if (dir == m_int8) {  // after (the default): the f32 run's weights rounded, the kernels' integers of them
          torch::Tensor qf, sf;
          quantised(a.layers[l].proj[static_cast<size_t>(p)], &qf, &sf);
          QVERIFY2(torch::equal(qf, fq), qPrintable(where + ": not the f32 run's weights rounded"));
          QVERIFY2(torch::allclose(sf, fs, 2e-7, 0), qPrintable(where + ": not the f32 run's scales"));
        }
        // At least the requested sparsity is exactly zero (rounding may add a few zeros).
        const int64_t z = wi.eq(0).sum().item<int64_t>();
        const int64_t want0 = static_cast<int64_t>(std::llround(run.sparsity.at(static_cast<int>(l), proj).weight *
                                                                static_cast<double>(wi.numel())));
        QVERIFY2(z >= want0, qPrintable(where + QString(": %1 zeros, %2 requested").arg(z).arg(want0)));
        zeros += z;
        rounded += z - want0;
      }
      QVERIFY(torch::equal(b.layers[l].attnNorm, a.layers[l].attnNorm));
      QVERIFY(torch::equal(b.layers[l].mlpNorm, a.layers[l].mlpNorm));
    }
    qInfo("%s: %lld zeros, %lld of them kept weights rounded to 0", dir.c_str(), static_cast<long long>(zeros),
          static_cast<long long>(rounded));
    QVERIFY(zeros > 0);
    // The tensors that are not projections are the source's, bit for bit.
    QVERIFY(torch::equal(b.embed, a.embed));
    QVERIFY(torch::equal(b.finalNorm, a.finalNorm));
    QVERIFY(torch::equal(b.lmHead, a.lmHead));
  }
}

// Copying an int8 checkpoint (the window's export of a run's kept weights): dense stays int8 with
// the same integers and scales, sparse-bitmask holds the same values as f32.
void TestInt8Checkpoint::copiesKeepTheIntegers() {
  const std::string dense = (m_tmp.path() + "/copy-dense").toStdString(),
                    bitmask = (m_tmp.path() + "/copy-bitmask").toStdString();
  QCOMPARE(duo::copyCheckpoint(m_int8, dense, "dense", {}).dtype, std::string("I8"));
  QCOMPARE(duo::copyCheckpoint(m_int8, bitmask, "sparse-bitmask", {}).dtype, std::string("F32"));
  const duo::HfWeightFiles a = duo::openHfWeights(m_int8), b = duo::openHfWeights(dense);
  QCOMPARE(b.int8.size(), a.int8.size());
  for (const auto& [name, w] : a.int8) {
    const duo::HfInt8Weight& v = b.int8.at(name);
    QVERIFY2(torch::equal(stored(a, w.weight, torch::kInt8), stored(b, v.weight, torch::kInt8)), name.c_str());
    QVERIFY2(torch::equal(stored(a, w.scale, torch::kFloat32), stored(b, v.scale, torch::kFloat32)), name.c_str());
  }
  const duo::LlamaWeights src = duo::loadWeights(m_int8), bm = duo::loadWeights(bitmask);
  for (size_t l = 0; l < src.layers.size(); ++l)
    for (size_t p = 0; p < src.layers[l].proj.size(); ++p)
      QVERIFY(torch::equal(src.layers[l].proj[p], bm.layers[l].proj[p]));
  QCOMPARE(nlohmann::json::parse(duo::readFile(dense + "/duoscope.json"))["out_dtype"].get<std::string>(),
           std::string("I8"));
}

void TestInt8Checkpoint::perplexityWithinOnePercent() {
  duo::EvalRequest req;
  req.corpus = "kjv:eval";
  req.seqlen = 64;
  req.maxWindows = 16;
  req.device = "cpu";
  double ppl[4] = {0, 0, 0, 0};
  const duo::PruneResult* runs[4] = {&m_f32Result, &m_int8Result, &m_nearestResult, &m_solveResult};
  const std::string dirs[4] = {m_f32, m_int8, m_nearest, m_solve};
  for (int i = 0; i < 4; ++i) {
    req.model = dirs[i];
    const duo::EvalOutcome e = duo::runEval(req);
    QVERIFY(e.pruned);  // with the run's activation rule
    QCOMPARE(e.json["tokens"].get<int64_t>(), runs[i]->eval.tokens);
    ppl[i] = e.json["perplexity"].get<double>();
    // The run evaluated what it stored: its own perplexity is the checkpoint's.
    QVERIFY2(std::abs(ppl[i] - runs[i]->eval.perplexity) <= 1e-4 * ppl[i],
             qPrintable(QString("%1: eval job %2, the run's own %3").arg(QString::fromStdString(dirs[i]))
                            .arg(ppl[i], 0, 'f', 6).arg(runs[i]->eval.perplexity, 0, 'f', 6)));
  }
  qInfo("perplexity f32 %.6f, int8 after %.6f (%+.3f%%), nearest %.6f (%+.3f%%), solve %.6f (%+.3f%%)", ppl[0],
        ppl[1], 100.0 * (ppl[1] - ppl[0]) / ppl[0], ppl[2], 100.0 * (ppl[2] - ppl[0]) / ppl[0], ppl[3],
        100.0 * (ppl[3] - ppl[0]) / ppl[0]);
  // `after` (the default: the f32 run's weights rounded) at most 1% worse (the target).
  // nearest and solve calibrate the later layers on the int8 values of the earlier ones, so they
  // differ from their f32 twin as another seed does (SmolLM2, five seeds: sd 1.2-3.4%,
  // docs/results.md), and either may come out ahead: on this model, changing only the order in
  // which the solver's products add up (blocked triangular products) moved them from +0.43% and
  // -1.91% to +1.48% and +1.89%. For them 3% bounds a broken rounding, not their spread.
  for (int i = 1; i < 4; ++i) {
    const double bound = i == 1 ? 0.01 : 0.03;
    QVERIFY2((ppl[i] - ppl[0]) / ppl[0] <= bound,
             qPrintable(QString("int8 %1 vs f32 %2 (bound %3)").arg(ppl[i]).arg(ppl[0]).arg(bound)));
  }
}

void TestInt8Checkpoint::inspectReportsInt8() {
  const duo::ModelInfo i = duo::inspectModel(m_int8), f = duo::inspectModel(m_f32);
  QCOMPARE(i.dtypeCounts.at("I8"), int64_t(f.config.numLayers * duo::kNumProj));
  QCOMPARE(i.parameters, f.parameters);    // the scales are not parameters
  QCOMPARE(i.tensorCount, f.tensorCount);  // nor tensors of the model
  QVERIFY(i.fileBytes < f.fileBytes / 2);
  // `info --json` shows it too.
  QByteArray so, se;
  QCOMPARE(runCli({"info", "--model", QString::fromStdString(m_int8), "--json"}, &so, &se), 0);
  const auto j = nlohmann::json::parse(so.toStdString());
  QCOMPARE(j["dtype_counts"]["I8"].get<int64_t>(), int64_t(f.config.numLayers * duo::kNumProj));
}

void TestInt8Checkpoint::shardedInt8LoadsBack() {
  // The whole-model writer with int8 options, in shards of 1 MB: each scale is listed in the index
  // with its weight, and the model loads back as q * scale.
  const duo::LlamaWeights w = duo::loadWeights(m_f32);
  const std::string dir = (m_tmp.path() + "/sharded-int8").toStdString();
  duo::CheckpointWriterOptions o;
  o.int8 = true;
  o.maxShardBytes = 1'000'000;
  duo::saveHfCheckpoint(w, dir, {}, tinyDir() + "/tokenizer.json", {}, o);
  const auto index = nlohmann::json::parse(duo::readFile(dir + "/model.safetensors.index.json"));
  const nlohmann::json& map = index["weight_map"];
  std::set<std::string> shards;
  for (const auto& [name, file] : map.items()) shards.insert(file.get<std::string>());
  QVERIFY2(shards.size() >= 3, qPrintable(QString("%1 shards").arg(shards.size())));
  const std::string probe = std::string(kProbe) + ".weight";
  QVERIFY(map.contains(probe) && map.contains(std::string(kProbe) + ".weight_scale"));
  QVERIFY(nlohmann::json::parse(duo::readFile(dir + "/config.json")).contains("quantization_config"));
  const duo::LlamaWeights back = duo::loadWeights(dir);
  for (size_t l = 0; l < w.layers.size(); ++l)
    for (size_t p = 0; p < static_cast<size_t>(duo::kNumProj); ++p)
      QVERIFY(torch::equal(back.layers[l].proj[p], quantised(w.layers[l].proj[p])));
  QVERIFY(torch::equal(back.embed, w.embed));
  // A hole (header-only checkpoints) cannot stand for an int8 projection.
  duo::CheckpointWriter holes((m_tmp.path() + "/holes-int8").toStdString(), w.config, o);
  holes.put({duo::TensorKind::Embed, -1, duo::Proj::Q}, w.embed);
  holes.put({duo::TensorKind::AttnNorm, 0, duo::Proj::Q}, w.layers[0].attnNorm);
  duo::test::expectError([&] { holes.skip({duo::TensorKind::Proj, 0, duo::Proj::Q}); },
                         {"model.layers.0.self_attn.q_proj.weight", "cannot be a hole in an int8 checkpoint"});
}

void TestInt8Checkpoint::corruptedCheckpointsNameTheTensor() {
  const std::string weight = std::string(kProbe) + ".weight", scale = std::string(kProbe) + ".weight_scale";
  // Every way of opening the model reads the headers the same way.
  const auto opens = [](const std::string& dir) {
    return std::vector<std::function<void()>>{[dir] { duo::loadWeights(dir); },
                                              [dir] { duo::openWeightSource(dir)->layer(1); },
                                              [dir] { duo::inspectModel(dir); }};
  };

  // The scale is gone (renamed to a name no loader knows).
  const std::string noScale = copyOfInt8("no-scale");
  editHeader(noScale + "/model.safetensors", [&](nlohmann::ordered_json& h) {
    h["stray"] = h[scale];
    h.erase(scale);
  });
  for (const auto& fn : opens(noScale))
    duo::test::expectError(fn, {noScale + "/model.safetensors", "tensor '" + weight + "'", "no '" + scale + "'"});

  // The scale has the right bytes but the wrong shape ([240, 2] for [480, 1]).
  const std::string badShape = copyOfInt8("bad-shape");
  editHeader(badShape + "/model.safetensors", [&](nlohmann::ordered_json& h) {
    const int64_t rows = h[scale]["shape"][0].get<int64_t>();
    h[scale]["shape"] = {rows / 2, 2};
  });
  for (const auto& fn : opens(badShape))
    duo::test::expectError(fn, {badShape + "/model.safetensors", "tensor '" + scale + "'", "[480, 1]", "[240, 2]"});

  // The scale's dtype is not a float.
  const std::string intScale = copyOfInt8("int-scale");
  editHeader(intScale + "/model.safetensors", [&](nlohmann::ordered_json& h) { h[scale]["dtype"] = "I32"; });
  duo::test::expectError([&] { duo::loadWeights(intScale); }, {"tensor '" + scale + "'", "got I32 [480, 1]"});

  // I8 weights in a folder whose config.json does not say they are quantised.
  const std::string noConfig = copyOfInt8("no-quantization-config");
  auto cfg = nlohmann::json::parse(duo::readFile(noConfig + "/config.json"));
  cfg.erase("quantization_config");
  duo::writeFileAtomic(noConfig + "/config.json", cfg.dump(2));
  for (const auto& fn : opens(noConfig))
    duo::test::expectError(fn, {noConfig + "/model.safetensors", "is I8 but", noConfig + "/config.json",
                                "no quantization_config"});

  // A quantization scheme we do not read (per group of 128 columns) is refused by the config.
  const std::string grouped = copyOfInt8("grouped");
  cfg = nlohmann::json::parse(duo::readFile(grouped + "/config.json"));
  cfg["quantization_config"]["config_groups"]["group_0"]["weights"]["strategy"] = "group";
  cfg["quantization_config"]["config_groups"]["group_0"]["weights"]["group_size"] = 128;
  duo::writeFileAtomic(grouped + "/config.json", cfg.dump(2));
  duo::test::expectError([&] { duo::loadWeights(grouped); }, {grouped + "/config.json", "group 'group_0'",
                                                              "weights.strategy \"group\" is not \"channel\""});
}

void TestInt8Checkpoint::cliFlagAndRefusals() {
  QByteArray so, se;
  QCOMPARE(runCli({"prune", "--help"}, &so, &se), 0);
  QVERIFY2(so.contains("int8"), so.constData());

  const QString out = m_tmp.path() + "/cli-int8";
  const QStringList base = {"prune", "--model", QString::fromStdString(tinyDir()), "--method", "magnitude",
                            "--nsamples", "4", "--seqlen", "32", "--no-record", "--device", "cpu", "--out", out};
  QCOMPARE(runCli(base + QStringList{"--out-dtype", "int8", "--json"}, &so, &se), 0);
  const auto j = nlohmann::json::parse(so.toStdString());
  QCOMPARE(j["out_dtype"].get<std::string>(), std::string("I8"));
  QVERIFY(duo::openHfWeights(out.toStdString()).int8.size() == 28);
  QVERIFY(duo::loadWeights(out.toStdString()).layers.size() == 4);

  // Refused before anything runs, with the choices named; nothing is written.
  const QString refused = m_tmp.path() + "/cli-refused";
  const QStringList other = {"prune", "--model", QString::fromStdString(tinyDir()), "--method", "magnitude",
                             "--nsamples", "4", "--seqlen", "32", "--no-record", "--device", "cpu", "--out", refused};
  QCOMPARE(runCli(other + QStringList{"--out-dtype", "int4"}, &so, &se), 1);
  QVERIFY2(se.contains("--out-dtype 'int4' is not one of source, f32, f16, bf16, int8"), se.constData());
  QCOMPARE(runCli(other + QStringList{"--out-dtype", "int8", "--out-format", "sparse-bitmask"}, &so, &se), 1);
  QVERIFY2(se.contains("--out-dtype int8 cannot be combined with --out-format sparse-bitmask"), se.constData());
  QCOMPARE(runCli(other + QStringList{"--out-dtype", "int8", "--int8-rounding", "fast"}, &so, &se), 1);
  QVERIFY2(se.contains("--int8-rounding 'fast' is not solve, nearest or after"), se.constData());
  QCOMPARE(runCli(other + QStringList{"--int8-rounding", "solve"}, &so, &se), 1);
  QVERIFY2(se.contains("--int8-rounding needs --out-dtype int8"), se.constData());
  QVERIFY(!fs::exists(refused.toStdString()));
  QCOMPARE(partialSiblings(refused.toStdString()), 0);
}

void TestInt8Checkpoint::cancelLeavesNothing() {
  duo::PruneRequest req = request("/cancelled", "int8");
  req.nsamples = 8;
  int inLayer2 = 0;
  const duo::ProgressFn progress = [&](const duo::Progress& p) {
    // Cancel inside layer 2: layers 0 and 1 are already in the partial folder as int8.
    if (p.stage == "calibrate" && p.detail.rfind("layer 2 ", 0) == 0) ++inLayer2;
    return inLayer2 < 3;
  };
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::runPrune(req, progress));
  QCOMPARE(inLayer2, 3);
  QVERIFY(!fs::exists(req.outDir));
  QCOMPARE(partialSiblings(req.outDir), 0);
}

QTEST_GUILESS_MAIN(TestInt8Checkpoint)
#include "test_int8_checkpoint.moc"
