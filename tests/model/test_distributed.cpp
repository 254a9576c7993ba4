// SPDX-License-Identifier: GPL-3.0-or-later
// Data-parallel jobs on torch.distributed (c10d, Gloo), as two local processes on 127.0.0.1:
// `prune --nproc 2` against one process (same masks and weights, same perplexity), ranks started
// torchrun-style from the environment, a rank killed mid-layer, and the launch errors.
#include <QProcess>
#include <QProcessEnvironment>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <csignal>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "core/dist/collective.h"
#include "core/dist/dist_settings.h"
#include "core/model/model_loader.h"
#include "core/prune/sparsity_config.h"

namespace fs = std::filesystem;

namespace {

std::string tinyDir() { return std::string(std::getenv("DUO_RESOURCES_DIR")) + "/models/duo-tiny-kjv"; }
QString cli() { return QString::fromLocal8Bit(std::getenv("DUO_CLI")); }

// Runs the CLI with extra environment variables (VAR=value); one thread per process so that one
// process and two see the same arithmetic.
duo::test::CliRun runCli(const QStringList& args, const QStringList& env = {}, int timeoutMs = 900000) {
  return duo::test::runCli(args, timeoutMs, QStringList{"OMP_NUM_THREADS=1"} + env);
}

double relDiff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

// A port nothing listens on now (the kernel's choice).
int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Starts `args` as rank r of 2, the way torchrun starts a worker (its variables in the environment).
void startRank(QProcess& p, int r, const QString& port, const QStringList& args) {
  QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
  e.insert("OMP_NUM_THREADS", "1");
  e.insert("RANK", QString::number(r));
  e.insert("LOCAL_RANK", QString::number(r));
  e.insert("WORLD_SIZE", "2");
  e.insert("MASTER_ADDR", "127.0.0.1");
  e.insert("MASTER_PORT", port);
  p.setProcessEnvironment(e);
  p.start(cli(), args);
}

// Every projection of two checkpoints: identical masks, weights within `tol` relative (max abs
// difference over the largest magnitude of the projection).
void compareCheckpoints(const std::string& a, const std::string& b, double tol) {
  const duo::LoadedModel ma = duo::loadModel(a, torch::kCPU);
  const duo::LoadedModel mb = duo::loadModel(b, torch::kCPU);
  const auto& la = ma.model->weights().layers;
  const auto& lb = mb.model->weights().layers;
  QCOMPARE(la.size(), lb.size());
  for (size_t l = 0; l < la.size(); ++l)
    for (int p = 0; p < duo::kNumProj; ++p) {
      const torch::Tensor wa = la[l].proj[static_cast<size_t>(p)].to(torch::kFloat64);
      const torch::Tensor wb = lb[l].proj[static_cast<size_t>(p)].to(torch::kFloat64);
      const int64_t maskDiff = wa.eq(0).ne(wb.eq(0)).sum().item<int64_t>();
      const double scale = std::max(wb.abs().max().item<double>(), 1e-30);
      const double diff = (wa - wb).abs().max().item<double>() / scale;
      if (maskDiff != 0 || diff > tol)
        QFAIL(qPrintable(QString("layer %1 %2: %3 mask entries differ, weights %4 relative")
                             .arg(l).arg(duo::projName(static_cast<duo::Proj>(p))).arg(maskDiff).arg(diff)));
    }
}

}  // namespace

class TestDistributed : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void shares();
  void twoRanksMatchOne_data();
  void twoRanksMatchOne();
  void torchrunStyleEval();
  void sensitivityTwoRanksMatchOne();
  void killedRankStopsTheOther();
  void launchErrors();

 private:
  QTemporaryDir m_tmp;
};

void TestDistributed::initTestCase() {
  QVERIFY(m_tmp.isValid());
  if (!duo::distributedBuilt()) QSKIP("this build has no torch.distributed (c10d): the CLI runs one process");
}

void TestDistributed::shares() {
  // Contiguous, covering, sizes differing by at most one, larger shares first.
  for (int n : {0, 1, 7, 8, 9, 64})
    for (int size : {1, 2, 3, 5}) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const auto [b, e] = duo::shareOf(n, r, size);
        QCOMPARE(b, next);
        QVERIFY(e - b == n / size || e - b == n / size + 1);
        if (r > 0) QVERIFY(e - b <= duo::shareOf(n, r - 1, size).second - duo::shareOf(n, r - 1, size).first);
        next = e;
      }
      QCOMPARE(next, int64_t(n));
    }
}

void TestDistributed::twoRanksMatchOne_data() {
  QTest::addColumn<QString>("method");
  QTest::addColumn<bool>("perLayer");
  QTest::addColumn<int>("nsamples");
  QTest::newRow("duogpt uniform, 9 windows") << "duogpt" << false << 9;
  QTest::newRow("sparsegpt uniform, 17 windows") << "sparsegpt" << false << 17;
  QTest::newRow("duogpt per-layer config, 24 windows") << "duogpt" << true << 24;
  QTest::newRow("sparsegpt per-layer config, 11 windows") << "sparsegpt" << true << 11;
}

void TestDistributed::twoRanksMatchOne() {
  QFETCH(QString, method);
  QFETCH(bool, perLayer);
  QFETCH(int, nsamples);
  const QString tag = QString("%1-%2-%3").arg(method).arg(perLayer).arg(nsamples);
  QStringList args = {"prune", "--model", QString::fromStdString(tinyDir()), "--method", method, "--nsamples",
                      QString::number(nsamples), "--seqlen", "64", "--eval", "--max-windows", "7", "--json",
                      "--no-record"};
  if (perLayer) {  // different weight and activation sparsity per layer and projection
    duo::SparsityConfig sc = duo::SparsityConfig::uniform(4, 0.5, 0.4);
    sc.setWeight(0, duo::Proj::Q, 0.3);
    sc.setWeight(1, duo::Proj::Down, 0.7);
    sc.setWeight(3, duo::Proj::Up, 0.6);
    sc.setSiteAct(2, duo::Site::GateUp, 0.6);
    const std::string path = m_tmp.filePath(tag + ".json").toStdString();
    std::ofstream(path) << sc.toJson().dump(2);
    args << "--config" << QString::fromStdString(path);
  }
  const QString one = m_tmp.filePath(tag + "-1"), two = m_tmp.filePath(tag + "-2");
  const auto r1 = runCli(args + QStringList{"--out", one});
  QVERIFY2(r1.code == 0, r1.err.constData());
  const auto r2 = runCli(args + QStringList{"--out", two, "--nproc", "2"});
  QVERIFY2(r2.code == 0, r2.err.constData());
  const auto j1 = nlohmann::json::parse(r1.out.toStdString());
  const auto j2 = nlohmann::json::parse(r2.out.toStdString());  // rank 0 alone prints
  QCOMPARE(j1["world_size"].get<int>(), 1);
  QCOMPARE(j2["world_size"].get<int>(), 2);
  QCOMPARE(j2["dist_backend"].get<std::string>(), std::string("gloo"));
  QCOMPARE(j2["eval"]["windows"].get<int64_t>(), j1["eval"]["windows"].get<int64_t>());
  QCOMPARE(j2["eval"]["tokens"].get<int64_t>(), j1["eval"]["tokens"].get<int64_t>());
  const double p1 = j1["eval"]["perplexity"].get<double>(), p2 = j2["eval"]["perplexity"].get<double>();
  QVERIFY2(relDiff(p2, p1) <= 1e-5, qPrintable(QString("perplexity %1 (2 ranks) vs %2 (1)").arg(p2).arg(p1)));
  QVERIFY(relDiff(j2["eval"]["dense_perplexity"].get<double>(), j1["eval"]["dense_perplexity"].get<double>()) <= 1e-5);
  QVERIFY(relDiff(j2["weight_sparsity"].get<double>(), j1["weight_sparsity"].get<double>()) <= 1e-9);
  QVERIFY(relDiff(j2["act_sparsity"].get<double>(), j1["act_sparsity"].get<double>()) <= 1e-9);
  // The records (errors over all ranks' windows) agree too.
  QCOMPARE(j2["records"].size(), j1["records"].size());
  for (size_t i = 0; i < j1["records"].size(); ++i)
    for (const char* key : {"rel_error", "rel_error_mask_only", "weight_sparsity", "act_sparsity"})
      QVERIFY2(relDiff(j2["records"][i][key].get<double>(), j1["records"][i][key].get<double>()) <= 1e-6,
               qPrintable(QString("record %1 %2").arg(i).arg(key)));
  compareCheckpoints(two.toStdString(), one.toStdString(), 1e-5);
  // Rank 0 alone wrote: one checkpoint, nothing beside it.
  int siblings = 0;
  for (const auto& e : fs::directory_iterator(m_tmp.path().toStdString()))
    if (e.path().filename().string().rfind((tag + "-2").toStdString(), 0) == 0) ++siblings;
  QCOMPARE(siblings, 1);
}

void TestDistributed::torchrunStyleEval() {
  // Two workers started as torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
  const QStringList args = {"eval", "--model", QString::fromStdString(tinyDir()), "--seqlen", "64", "--max-windows",
                            "13", "--json"};
  const auto single = runCli(args);
  QVERIFY2(single.code == 0, single.err.constData());
  const QString port = QString::number(freePort());
  QProcess ranks[2];
  for (int r = 0; r < 2; ++r) startRank(ranks[r], r, port, args);
  for (auto& p : ranks) QVERIFY(p.waitForFinished(300000));
  QCOMPARE(ranks[0].exitCode(), 0);
  QCOMPARE(ranks[1].exitCode(), 0);
  QVERIFY(ranks[1].readAllStandardOutput().trimmed().isEmpty());  // only rank 0 reports
  const auto j1 = nlohmann::json::parse(single.out.toStdString());
  const auto j2 = nlohmann::json::parse(ranks[0].readAllStandardOutput().toStdString());
  QCOMPARE(j2["windows"].get<int64_t>(), j1["windows"].get<int64_t>());
  QVERIFY(relDiff(j2["perplexity"].get<double>(), j1["perplexity"].get<double>()) <= 1e-5);
}

void TestDistributed::sensitivityTwoRanksMatchOne() {
  // The sweep's statistics, activation sums, grid points and loss weights over 2 ranks: the table
  // one process computes (11 windows: an uneven split; 300 activation tokens: a strided subset).
  const QStringList args = {"sensitivity", "--model", QString::fromStdString(tinyDir()), "--nsamples", "11",
                            "--seqlen", "64", "--grid-w", "0,0.3,0.6", "--grid-a", "0,0.5", "--act-tokens", "300",
                            "--json"};
  const auto r1 = runCli(args);
  QVERIFY2(r1.code == 0, r1.err.constData());
  const auto r2 = runCli(args + QStringList{"--nproc", "2"});
  QVERIFY2(r2.code == 0, r2.err.constData());
  const auto t1 = nlohmann::json::parse(r1.out.toStdString());
  const auto t2 = nlohmann::json::parse(r2.out.toStdString());
  QCOMPARE(t2["calib"]["act_tokens"], t1["calib"]["act_tokens"]);
  QCOMPARE(t2["calib"]["nsamples"], t1["calib"]["nsamples"]);
  QCOMPARE(t2["layers"].size(), t1["layers"].size());
  // 1e-6 where OpenBLAS runs its Haswell (AVX2) kernels. Its AVX-512 kernels (SkylakeX and later,
  // as on this project's current machines) round an f32 product differently by matrix shape, and
  // a rank's share of the windows is another shape than all of them: a grid point whose mask
  // selection meets a near-tie then moves by up to 6e-4 relative (measured: layer 2 gate_proj at
  // W60/A0, 0.0384322 over 2 ranks vs 0.0384106; identical to 1e-6 with OPENBLAS_CORETYPE=Haswell).
  // Which weight a near-tie prunes depends on the last bits of H's factor, so the size of that
  // move changes with the factor's rounding (5e-5 with the factor computed through H^-1).
  auto close = [](double b, double a) { return relDiff(b, a) <= 1e-3 || std::abs(b - a) < 1e-12; };
  int compared = 0, exact = 0;
  for (size_t l = 0; l < t1["layers"].size(); ++l) {
    QVERIFY(close(t2["layers"][l]["outlier_ratio"].get<double>(), t1["layers"][l]["outlier_ratio"].get<double>()));
    for (size_t i = 0; i < t1["layers"][l]["projections"].size(); ++i) {
      const auto& a = t1["layers"][l]["projections"][i];
      const auto& b = t2["layers"][l]["projections"][i];
      std::vector<double> va, vb;
      for (const auto& row : a["error"]) for (const auto& v : row) va.push_back(v.get<double>());
      for (const auto& row : b["error"]) for (const auto& v : row) vb.push_back(v.get<double>());
      for (const char* key : {"weight_error", "act_error", "act_energy"}) {
        for (const auto& v : a[key]) va.push_back(v.get<double>());
        for (const auto& v : b[key]) vb.push_back(v.get<double>());
      }
      va.push_back(a["loss_weight"].get<double>());
      vb.push_back(b["loss_weight"].get<double>());
      QCOMPARE(vb.size(), va.size());
      for (size_t j = 0; j < va.size(); ++j, ++compared) {
        QVERIFY2(close(vb[j], va[j]), qPrintable(QString("layer %1 projection %2 value %3: %4 (2 ranks) vs %5")
                                                     .arg(l).arg(i).arg(j).arg(vb[j]).arg(va[j])));
        exact += relDiff(vb[j], va[j]) <= 1e-6 || std::abs(vb[j] - va[j]) < 1e-12;
      }
    }
  }
  QVERIFY(compared > 100);
  // The wider tolerance is for the odd near-tie only: nearly every value still agrees to 1e-6.
  QVERIFY2(exact >= compared * 0.97, qPrintable(QString("%1 of %2 values agree to 1e-6").arg(exact).arg(compared)));
}

void TestDistributed::killedRankStopsTheOther() {
  // Rank 1 is killed while rank 0 calibrates: rank 0 must fail within 60 s and write nothing.
  const QString out = m_tmp.filePath("killed");
  const QString port = QString::number(freePort());
  QProcess ranks[2];
  for (int r = 0; r < 2; ++r)
    startRank(ranks[r], r, port,
              {"prune", "--model", QString::fromStdString(tinyDir()), "--method", "duogpt", "--nsamples", "256",
               "--seqlen", "128", "--out", out, "--no-record"});
  // Wait until rank 0 reports a layer in progress (past the rendezvous, inside the calibration).
  QByteArray err0;
  for (int i = 0; i < 1200 && !err0.contains("layer "); ++i) {
    ranks[0].waitForReadyRead(100);
    err0 += ranks[0].readAllStandardError();
  }
  QVERIFY2(err0.contains("layer "), err0.constData());
  ::kill(static_cast<pid_t>(ranks[1].processId()), SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  QVERIFY2(ranks[0].waitForFinished(60000), "rank 0 still runs 60 s after rank 1 was killed");
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ranks[1].waitForFinished();
  err0 += ranks[0].readAllStandardError();
  QVERIFY2(ranks[0].exitCode() != 0, err0.constData());
  QVERIFY2(err0.contains("rank 0"), err0.constData());
  QVERIFY(!fs::exists(out.toStdString()));
  for (const auto& e : fs::directory_iterator(m_tmp.path().toStdString()))
    QVERIFY2(e.path().filename().string().rfind("killed", 0) != 0, e.path().c_str());  // no partial left
  qInfo("rank 0 stopped %.1f s after rank 1 was killed: %s", waited, err0.right(300).constData());
}

void TestDistributed::launchErrors() {
  const QStringList eval = {"eval", "--model", QString::fromStdString(tinyDir()), "--max-windows", "2", "--seqlen", "32"};
  struct Case {
    QStringList env;
    QStringList extra;
    const char* expect;
  };
  const QString busy = QString::number(freePort());
  // A listening socket holds `busy` for the port-in-use case.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(static_cast<uint16_t>(busy.toInt()));
  QVERIFY(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd, 4) == 0);
  const Case cases[] = {
      {{"WORLD_SIZE=0"}, {}, "WORLD_SIZE=0"},
      {{"WORLD_SIZE=2", "RANK=2"}, {}, "RANK=2 is outside 0..1"},
      {{"WORLD_SIZE=two"}, {}, "WORLD_SIZE='two' is not an integer"},
      {{"WORLD_SIZE=2", "RANK=0", "MASTER_PORT=70000"}, {}, "MASTER_PORT=70000"},
      {{"WORLD_SIZE=2", "RANK=0", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + busy, "DUO_DIST_CONNECT_TIMEOUT=5"},
       {},
       "cannot serve the rendezvous"},
      {{"WORLD_SIZE=2", "RANK=1", "MASTER_ADDR=192.0.2.1", "MASTER_PORT=29999", "DUO_DIST_CONNECT_TIMEOUT=5"},
       {},
       "cannot reach the rendezvous"},
      {{"WORLD_SIZE=2", "RANK=0"}, {"--nproc", "2"}, "let the launcher start the workers"},
      {{}, {"--nproc", "0"}, "--nproc 0 must be at least 1"},
      {{}, {"--nproc", "2", "--dist-backend", "mpi"}, "is not auto, gloo or nccl"},
      {{}, {"--nproc", "2", "--dist-backend", "nccl"}, "nccl"},
  };
  for (const Case& c : cases) {
    const auto r = runCli(eval + c.extra, c.env, 120000);
    const QString what = c.env.join(' ') + " " + c.extra.join(' ');
    QVERIFY2(r.code != 0 && r.code != -1, qPrintable(what + ": exit " + QString::number(r.code)));
    QVERIFY2(r.seconds < 60, qPrintable(what + ": took " + QString::number(r.seconds) + " s"));
    QVERIFY2(r.err.contains(c.expect), qPrintable(what + ": " + r.err));
  }
  close(fd);
}

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"
