// SPDX-License-Identifier: GPL-3.0-or-later
// The built-in corpus `mix` (core/data/corpus, scripts/derive_mix.py, docs/corpus.md): every mix
// source loads and matches the manifest's sizes and SHA-256; no evaluation line of 20 bytes or more
// is in any calibration file; every domain gives mix:calib and mix:eval the same share of bytes,
// spread through the file; deriving again from the installed Debian packages gives the same
// checksums; each calibration mix less one domain is mix:calib without that domain's chunks.
// Without the derived corpus in the cache those checks skip, naming scripts/setup.sh.
// Faults (unknown split or domain, missing files, a file that differs from the manifest) are
// checked on a small corpus of the test's own and always run, and so are the model's default
// corpora ("auto": its training.json's, else the mix; core/data/default_corpora.h).
#include <QProcess>
#include <QStandardPaths>
#include <QStringDecoder>
#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/common/atomic_file.h"
#include "core/common/paths.h"
#include "core/common/sha256.h"
#include "core/data/corpus.h"
#include "core/data/default_corpora.h"
#include "core/data/domains.h"
#include "unit/expect_error.h"

namespace fs = std::filesystem;
using duo::test::expectError;

namespace {

constexpr size_t kMinLineBytes = 20;  // shorter lines are headings ("DESCRIPTION", "Syn:"), not content
const char* const kSplits[] = {"calib", "eval"};

bool haveMix() { return fs::exists(duo::mixManifestPath()); }

#define REQUIRE_MIX()                                                                                   \
  do {                                                                                                  \
    if (!haveMix())                                                                                     \
      QSKIP(qPrintable(QString("the mix corpus is not in the cache (%1 absent): run scripts/setup.sh") \
                           .arg(QString::fromStdString(duo::mixManifestPath()))));                      \
  } while (0)

// "mix:eval" or "mix:eval:gcide".
std::string source(const std::string& split, const std::string& domain = "") {
  return "mix:" + split + (domain.empty() ? "" : ":" + domain);
}

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

nlohmann::json readJson(const std::string& path) { return nlohmann::json::parse(duo::readFile(path)); }

// Points DUO_CACHE_DIR somewhere else for a scope.
class CacheDirOverride {
 public:
  explicit CacheDirOverride(const QString& dir) : m_had(qEnvironmentVariableIsSet("DUO_CACHE_DIR")) {
    m_old = qgetenv("DUO_CACHE_DIR");
    qputenv("DUO_CACHE_DIR", dir.toLocal8Bit());
  }
  ~CacheDirOverride() {
    if (m_had)
      qputenv("DUO_CACHE_DIR", m_old);
    else
      qunsetenv("DUO_CACHE_DIR");
  }

 private:
  bool m_had;
  QByteArray m_old;
};

}  // namespace

class TestCorpusMix : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void loadsEverySource_data();
  void loadsEverySource();
  void manifestChecksums();
  void evalDisjointFromCalib();
  void domainShares_data();
  void domainShares();
  void withoutDomain_data();
  void withoutDomain();
  void domainsOfSources_data();
  void domainsOfSources();
  void rederiveSameChecksums();
  void faults();
  void defaultCorporaPerModel();
};

void TestCorpusMix::loadsEverySource_data() {
  QTest::addColumn<QString>("split");
  QTest::addColumn<QString>("domain");
  for (const char* split : kSplits) {
    QTest::newRow(source(split).c_str()) << split << "";
    for (const std::string& d : duo::mixDomains()) QTest::newRow(source(split, d).c_str()) << split << d.c_str();
  }
  for (const std::string& d : duo::mixDomains()) {
    const std::string without = duo::kMixWithout + d;
    QTest::newRow(source("calib", without).c_str()) << "calib" << without.c_str();
  }
}

void TestCorpusMix::loadsEverySource() {
  REQUIRE_MIX();
  QFETCH(QString, split);
  QFETCH(QString, domain);
  const std::string name = source(split.toStdString(), domain.toStdString());
  const duo::CorpusText c = duo::loadCorpus(name);
  QCOMPARE(c.name, name);
  QCOMPARE(c.path, duo::mixPath(split.toStdString(), domain.toStdString()));
  QVERIFY(!c.prependBos);
  QVERIFY2(c.text.size() > 10000, qPrintable(QString("%1: only %2 bytes").arg(name.c_str()).arg(c.text.size())));
  QVERIFY(c.text.back() == '\n');
  QStringDecoder utf8(QStringDecoder::Utf8);
  const QString decoded = utf8.decode(QByteArrayView(c.text.data(), static_cast<qsizetype>(c.text.size())));
  QVERIFY2(!utf8.hasError(), qPrintable(QString("%1 is not valid UTF-8").arg(name.c_str())));
  QVERIFY(!decoded.isEmpty());
}

// The manifest lists the 20 files (the two mixes, the domains' twelve splits, the six calibration
// mixes less one domain), each with its size and SHA-256, and the source packages' versions.
void TestCorpusMix::manifestChecksums() {
  REQUIRE_MIX();
  const nlohmann::json m = readJson(duo::mixManifestPath());
  QVERIFY(m.contains("files") && m["files"].is_object());
  QCOMPARE(m["files"].size(), size_t(2 + 3 * duo::mixDomains().size()));
  for (const char* split : kSplits) {
    std::vector<std::string> paths = {duo::mixPath(split)};
    for (const std::string& d : duo::mixDomains()) paths.push_back(duo::mixPath(split, d));
    if (std::string(split) == "calib")
      for (const std::string& d : duo::mixDomains()) paths.push_back(duo::mixPath(split, duo::kMixWithout + d));
    for (const std::string& path : paths) {
      const std::string file = fs::path(path).filename().string();
      QVERIFY2(m["files"].contains(file), qPrintable(QString("mix.json lacks %1").arg(file.c_str())));
      const auto& e = m["files"][file];
      QCOMPARE(static_cast<int64_t>(fs::file_size(path)), e["bytes"].get<int64_t>());
      QCOMPARE(duo::sha256File(path), e["sha256"].get<std::string>());
    }
  }
  for (const char* pkg : {"dict-gcide", "manpages", "debian-reference-en", "fortunes-min", "fortunes", "jargon-text",
                          "bible-kjv"})
    QVERIFY2(m["packages"].contains(pkg) && !m["packages"][pkg].get<std::string>().empty(),
             qPrintable(QString("mix.json lacks the version of %1").arg(pkg)));
}

// No evaluation line of kMinLineBytes or more (mix:eval and every mix:eval:DOMAIN) occurs in any
// calibration file (mix:calib and every mix:calib:DOMAIN).
void TestCorpusMix::evalDisjointFromCalib() {
  REQUIRE_MIX();
  std::vector<std::string> calib;  // kept alive: the set holds views into them
  calib.push_back(duo::loadCorpus(source("calib")).text);
  for (const std::string& d : duo::mixDomains()) calib.push_back(duo::loadCorpus(source("calib", d)).text);
  std::unordered_set<std::string_view> seen;
  for (const std::string& t : calib)
    for (std::string_view line : splitLines(t))
      if (line.size() >= kMinLineBytes) seen.insert(line);
  QVERIFY(seen.size() > 100000);

  std::vector<std::string> evalSources = {source("eval")};
  for (const std::string& d : duo::mixDomains()) evalSources.push_back(source("eval", d));
  for (const std::string& name : evalSources) {
    const std::string text = duo::loadCorpus(name).text;
    size_t checked = 0, shared = 0;
    std::string first;
    for (std::string_view line : splitLines(text)) {
      if (line.size() < kMinLineBytes) continue;
      ++checked;
      if (seen.count(line) && shared++ == 0) first = std::string(line);
    }
    QVERIFY2(checked > 100, qPrintable(QString("%1: only %2 lines checked").arg(name.c_str()).arg(checked)));
    QVERIFY2(shared == 0, qPrintable(QString("%1: %2 lines also in calibration text, e.g. '%3'")
                                         .arg(name.c_str())
                                         .arg(shared)
                                         .arg(QString::fromStdString(first.substr(0, 120)))));
  }
}

namespace {
// Every non-empty line of the domains' splits of `split` -> the bit mask of the domains (in
// mixDomains() order) whose split has it. The views point into `texts`, which must outlive the map.
std::unordered_map<std::string_view, uint32_t> lineOwners(const std::string& split, std::vector<std::string>& texts) {
  texts.clear();
  for (const std::string& d : duo::mixDomains()) texts.push_back(duo::loadCorpus(source(split, d)).text);
  std::unordered_map<std::string_view, uint32_t> owners;
  for (size_t i = 0; i < texts.size(); ++i)
    for (std::string_view line : splitLines(texts[i]))
      if (!line.empty()) owners[line] |= 1u << i;
  return owners;
}
}  // namespace

void TestCorpusMix::domainShares_data() {
  QTest::addColumn<QString>("split");
  for (const char* split : kSplits) QTest::newRow(split) << split;
}

// docs/corpus.md: each domain gives the mix the same number of bytes (1/6 each, within one point),
// in chunks interleaved so that every 16 KiB of the mix holds at least five of the six domains.
// A mix line is counted for the one domain whose split has it; lines in several domains (a few
// short ones) are left out, and must be rare.
void TestCorpusMix::domainShares() {
  REQUIRE_MIX();
  QFETCH(QString, split);
  const auto& domains = duo::mixDomains();
  std::vector<std::string> texts;
  const auto owners = lineOwners(split.toStdString(), texts);  // line -> bit mask of domains

  const std::string mix = duo::loadCorpus(source(split.toStdString())).text;
  constexpr size_t kStretch = 16384;
  std::vector<double> bytes(domains.size(), 0.0);
  double ambiguous = 0, total = 0;
  std::vector<uint32_t> stretches;  // domains seen in each 16 KiB stretch
  size_t pos = 0;
  for (std::string_view line : splitLines(mix)) {
    const double n = static_cast<double>(line.size() + 1);
    if (!line.empty()) {
      const auto it = owners.find(line);
      const QString shown = QString::fromStdString(std::string(line.substr(0, 120)));
      QVERIFY2(it != owners.end(), qPrintable(QString("mix:%1 line not in any domain's split: '%2'").arg(split, shown)));
      const uint32_t mask = it->second;
      if ((mask & (mask - 1)) == 0) {
        const int d = __builtin_ctz(mask);
        bytes[d] += n;
        if (stretches.size() <= pos / kStretch) stretches.resize(pos / kStretch + 1, 0);
        stretches[pos / kStretch] |= mask;
      } else {
        ambiguous += n;
      }
      total += n;
    }
    pos += line.size() + 1;
  }
  QVERIFY2(ambiguous < 0.01 * total,
           qPrintable(QString("%1 of %2 bytes in several domains").arg(ambiguous).arg(total)));
  double counted = 0;
  for (double b : bytes) counted += b;
  for (size_t i = 0; i < domains.size(); ++i) {
    const double share = bytes[i] / counted;
    QVERIFY2(std::abs(share - 1.0 / domains.size()) < 0.01,
             qPrintable(QString("mix:%1: %2 has %3 of the bytes, expected 1/%4")
                            .arg(split, domains[i].c_str())
                            .arg(share, 0, 'f', 4)
                            .arg(domains.size())));
  }
  const size_t full = mix.size() / kStretch;  // the last, partial stretch is not judged
  for (size_t s = 0; s < full && s < stretches.size(); ++s)
    QVERIFY2(__builtin_popcount(stretches[s]) >= 5,
             qPrintable(QString("mix:%1: bytes %2..%3 hold only %4 domains")
                            .arg(split)
                            .arg(s * kStretch)
                            .arg((s + 1) * kStretch)
                            .arg(__builtin_popcount(stretches[s]))));
}

// mix:calib:without-DOMAIN is mix:calib less that domain's chunks: every line of it is a line of
// mix:calib, no line of it belongs to the left-out domain alone, the other five domains give it a
// fifth of the bytes each (within one point), and it has five sixths of mix:calib's bytes.
void TestCorpusMix::withoutDomain_data() {
  QTest::addColumn<int>("left");
  for (size_t i = 0; i < duo::mixDomains().size(); ++i)
    QTest::newRow(source("calib", duo::kMixWithout + duo::mixDomains()[i]).c_str()) << int(i);
}

void TestCorpusMix::withoutDomain() {
  REQUIRE_MIX();
  QFETCH(int, left);
  const auto& domains = duo::mixDomains();
  std::vector<std::string> texts;
  const auto owners = lineOwners("calib", texts);
  const std::string mix = duo::loadCorpus(source("calib")).text;
  std::unordered_set<std::string_view> mixLines;
  for (std::string_view line : splitLines(mix)) mixLines.insert(line);

  const std::string name = source("calib", duo::kMixWithout + domains[left]);
  const std::string less = duo::loadCorpus(name).text;
  const double ratio = double(less.size()) / double(mix.size());
  QVERIFY2(std::abs(ratio - 5.0 / 6.0) < 0.01, qPrintable(QString("%1: %2 of mix:calib's bytes").arg(name.c_str()).arg(ratio)));
  std::vector<double> bytes(domains.size(), 0.0);
  for (std::string_view line : splitLines(less)) {
    if (line.empty()) continue;
    const QString shown = QString::fromStdString(std::string(line.substr(0, 120)));
    QVERIFY2(mixLines.count(line), qPrintable(QString("%1 line not in mix:calib: '%2'").arg(name.c_str(), shown)));
    const auto it = owners.find(line);
    QVERIFY(it != owners.end());
    QVERIFY2(it->second != (1u << left), qPrintable(QString("%1 has a line of %2: '%3'").arg(name.c_str(), domains[left].c_str(), shown)));
    if ((it->second & (it->second - 1)) == 0) bytes[__builtin_ctz(it->second)] += double(line.size() + 1);
  }
  double counted = 0;
  for (double b : bytes) counted += b;
  for (size_t i = 0; i < domains.size(); ++i) {
    const double share = bytes[i] / counted, want = int(i) == left ? 0.0 : 0.2;
    QVERIFY2(std::abs(share - want) < 0.01, qPrintable(QString("%1: %2 has %3 of the bytes, expected %4")
                                                            .arg(name.c_str(), domains[i].c_str())
                                                            .arg(share, 0, 'f', 4)
                                                            .arg(want)));
  }
}

// Which domains a source holds and how an evaluation corpus relates to the calibration's (the
// run records' domain field and the runs plot's in-domain / held-out split).
void TestCorpusMix::domainsOfSources_data() {
  QTest::addColumn<QString>("calib");
  QTest::addColumn<QString>("eval");
  QTest::addColumn<QString>("relation");
  QTest::newRow("kjv after kjv") << "kjv:calib" << "kjv:eval" << "in-domain";
  QTest::newRow("mix after kjv") << "kjv:calib" << "mix:eval" << "mixed";
  QTest::newRow("man pages after kjv") << "kjv:calib" << "mix:eval:manpages" << "held-out";
  QTest::newRow("kjv after mix") << "mix:calib" << "kjv:eval" << "in-domain";
  QTest::newRow("man pages after mix") << "mix:calib" << "mix:eval:manpages" << "in-domain";
  QTest::newRow("man pages after mix without them") << "mix:calib:without-manpages" << "mix:eval:manpages" << "held-out";
  QTest::newRow("fortunes after mix without man pages") << "mix:calib:without-manpages" << "mix:eval:fortunes"
                                                        << "in-domain";
  QTest::newRow("mix after mix without man pages") << "mix:calib:without-manpages" << "mix:eval" << "mixed";
  QTest::newRow("gcide after gcide") << "mix:calib:gcide" << "mix:eval:gcide" << "in-domain";
  QTest::newRow("same file") << "/data/a.txt" << "/other/a.txt" << "in-domain";
  QTest::newRow("other file") << "/data/a.txt" << "/data/b.jsonl" << "held-out";
  QTest::newRow("no evaluation") << "kjv:calib" << "" << "";
}

void TestCorpusMix::domainsOfSources() {
  QFETCH(QString, calib);
  QFETCH(QString, eval);
  QFETCH(QString, relation);
  QCOMPARE(QString::fromStdString(duo::domainRelation(calib.toStdString(), eval.toStdString())), relation);
  const auto less = duo::corpusDomains("mix:calib:without-kjv");
  QCOMPARE(less.size(), duo::mixDomains().size() - 1);
  QVERIFY(std::find(less.begin(), less.end(), "kjv") == less.end());
}

// scripts/derive_mix.py run again into a temporary folder from the installed packages writes
// files with the checksums the cache's manifest records.
void TestCorpusMix::rederiveSameChecksums() {
  REQUIRE_MIX();
  const QString python = QStandardPaths::findExecutable("python3");
  if (python.isEmpty()) QSKIP("python3 not found: run scripts/setup.sh");
  const QStringList packages = {"dict-gcide",  "manpages", "debian-reference-en", "fortunes-min",
                                "fortunes",    "jargon-text", "bible-kjv",         "groff-base"};
  QProcess dpkg;
  dpkg.start("dpkg-query", QStringList{"-W", "-f", "${Status}\n"} + packages);
  if (!dpkg.waitForFinished(60000) || dpkg.exitCode() != 0 ||
      QString(dpkg.readAllStandardOutput()).count("install ok installed") != packages.size())
    QSKIP("the corpus packages are not all installed: run scripts/setup.sh");

  const QString script = QString::fromStdString(duo::resourcesDir()) + "/../scripts/derive_mix.py";
  QVERIFY2(QFile::exists(script), qPrintable(script + " not found"));
  QTemporaryDir tmp;
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(python, {script, tmp.path()});
  QVERIFY2(p.waitForFinished(600000), "derive_mix.py did not finish in 10 minutes");
  QVERIFY2(p.exitCode() == 0, p.readAll().constData());

  const nlohmann::json cached = readJson(duo::mixManifestPath());
  const nlohmann::json fresh = readJson(tmp.filePath("mix.json").toStdString());
  QVERIFY2(cached["packages"] == fresh["packages"] && cached["script_sha256"] == fresh["script_sha256"],
           "the cache's mix was derived from other package versions or by another derive_mix.py: "
           "run scripts/setup.sh");
  QCOMPARE(fresh["files"].size(), cached["files"].size());
  for (const auto& [file, e] : cached["files"].items()) {
    QVERIFY2(fresh["files"].contains(file), file.c_str());
    QCOMPARE(fresh["files"][file]["bytes"].get<int64_t>(), e["bytes"].get<int64_t>());
    QCOMPARE(fresh["files"][file]["sha256"].get<std::string>(), e["sha256"].get<std::string>());
  }
}

// On a cache of the test's own: names, missing files and a file that differs from the manifest.
void TestCorpusMix::faults() {
  expectError([] { duo::loadCorpus("mix:test"); }, {"mix:test", "unknown split 'test'"});
  expectError([] { duo::loadCorpus("mix:eval:wiki"); }, {"mix:eval:wiki", "unknown domain 'wiki'", "gcide, manpages"});
  expectError([] { duo::loadCorpus("mix:calib:without-wiki"); }, {"mix:calib:without-wiki", "unknown domain 'wiki'"});
  expectError([] { duo::loadCorpus("mix:eval:without-kjv"); },
              {"mix:eval:without-kjv", "a mix without a domain is a calibration corpus"});

  QTemporaryDir tmp;
  CacheDirOverride cache(tmp.path());
  expectError([] { duo::loadCorpus("mix:calib"); }, {"mix:calib", "mix-calib.txt not found", "scripts/setup.sh"});
  fs::create_directories(tmp.filePath("corpus").toStdString());
  const std::string text = "One evaluation line.\nAnother one.\n";
  duo::writeFileAtomic(duo::mixPath("eval"), text);
  expectError([] { duo::loadCorpus("mix:eval"); }, {"mix:eval", "mix.json not found", "scripts/setup.sh"});
  const nlohmann::json manifest = {
      {"files", {{"mix-eval.txt", {{"bytes", text.size()}, {"sha256", duo::sha256Hex(text)}}}}}};
  duo::writeFileAtomic(duo::mixManifestPath(), manifest.dump());
  const duo::CorpusText ok = duo::loadCorpus("mix:eval");
  QCOMPARE(ok.text, text);
  QCOMPARE(ok.path, duo::mixPath("eval"));

  duo::writeFileAtomic(duo::mixPath("calib"), text);
  expectError([] { duo::loadCorpus("mix:calib"); }, {"mix:calib", "does not list mix-calib.txt"});
  std::string changed = text;
  changed[0] = 'o';
  duo::writeFileAtomic(duo::mixPath("eval"), changed);
  expectError([] { duo::loadCorpus("mix:eval"); }, {"mix:eval", "SHA-256", "scripts/setup.sh"});
  duo::writeFileAtomic(duo::mixPath("eval"), text + "more\n");
  expectError([] { duo::loadCorpus("mix:eval"); },
              {"mix:eval", "has " + std::to_string(text.size() + 5) + " bytes", "says " + std::to_string(text.size())});
}

void TestCorpusMix::defaultCorporaPerModel() {
  // The bundled tiny model was trained on the KJV: its training.json names kjv:calib and kjv:eval.
  const std::string tiny = qEnvironmentVariable("DUO_RESOURCES_DIR").toStdString() + "/models/duo-tiny-kjv";
  QVERIFY2(fs::exists(tiny + "/training.json"), "DUO_RESOURCES_DIR does not hold the tiny model: run under CTest");
  const duo::DefaultCorpora t = duo::defaultCorpora(tiny);
  QCOMPARE(t.calib, std::string("kjv:calib"));
  QCOMPARE(t.eval, std::string("kjv:eval"));
  QVERIFY(t.reason.find("training.json") != std::string::npos);
  QCOMPARE(duo::resolveCalibSource("auto", tiny), std::string("kjv:calib"));
  QCOMPARE(duo::resolveEvalSource("", tiny), std::string("kjv:eval"));
  QCOMPARE(duo::resolveCalibSource("mix:calib:gcide", tiny), std::string("mix:calib:gcide"));  // a named corpus stays

  // Any other model, a folder without training.json or a GGUF file, gets the broad mix.
  QTemporaryDir tmp;
  const std::string folder = tmp.path().toStdString();
  for (const std::string& model : {folder, folder + "/model.gguf", std::string()}) {
    const duo::DefaultCorpora d = duo::defaultCorpora(model);
    QCOMPARE(d.calib, std::string("mix:calib"));
    QCOMPARE(d.eval, std::string("mix:eval"));
    QCOMPARE(duo::resolveEvalSource("auto", model), std::string("mix:eval"));
  }

  // A training.json that cannot say: an error naming it, not a silent fallback.
  const std::string training = folder + "/training.json";
  duo::writeFileAtomic(training, "{\"options\": {\"corpus\": ");
  expectError([&] { duo::defaultCorpora(folder); }, {training, "not valid JSON"});
  duo::writeFileAtomic(training, R"({"options": {"corpus": "kjv:calib"}, "heldout": {"windows": 64}})");
  expectError([&] { duo::defaultCorpora(folder); }, {training, "\"heldout\": {\"corpus\""});
  duo::writeFileAtomic(training, R"({"options": {"corpus": "mix:calib:manpages"}, "heldout": {"corpus": "mix:eval:manpages"}})");
  QCOMPARE(duo::resolveCalibSource("auto", folder), std::string("mix:calib:manpages"));
  QCOMPARE(duo::resolveEvalSource("auto", folder), std::string("mix:eval:manpages"));

  // "auto" is a job's word (it needs the model): the corpus loader refuses it by name.
  expectError([] { duo::loadCorpus("auto"); }, {"corpus 'auto'", "needs a model"});
}

QTEST_GUILESS_MAIN(TestCorpusMix)
#include "test_corpus_mix.moc"
