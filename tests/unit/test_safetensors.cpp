// SPDX-License-Identifier: GPL-3.0-or-later
// core/model/io safetensors: header validation (each fault named with the file), F32/F16/BF16
// conversion, the writer, and robustness against truncated and corrupted files.
#include <QTemporaryDir>
#include <QtTest>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/io/dequant.h"
#include "core/model/io/model_writer.h"
#include "core/model/io/safetensors.h"

namespace {

// A safetensors file from a header (JSON text, used verbatim) and a data section.
std::string stFile(const std::string& headerText, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = headerText.size();
  std::memcpy(out.data(), &n, 8);
  return out + headerText + data;
}

std::string floatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::string u16Bytes(const std::vector<uint16_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 2);
}

// A valid two-tensor file: "a" [2,3] F32 at [0,24), "b" [4] F16 at [24,32).
std::string validFile() {
  const std::string header =
      R"({"__metadata__":{"format":"pt","note":"x"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}})";
  return stFile(header, floatBytes({1, 2, 3, 4, 5, 6}) + u16Bytes({0x3C00, 0xC000, 0x3800, 0x0000}));
}

// Throws unless parsing `bytes` fails with a message naming `file` and containing `fault`.
void expectFault(const std::string& bytes, const std::string& fault) {
  const std::string file = "/models/x.safetensors";
  try {
    duo::parseSafetensorsHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), file);
  } catch (const duo::Error& e) {
    const QString msg = e.what();
    QVERIFY2(msg.contains(QString::fromStdString(file)), qPrintable("message lacks the file: " + msg));
    QVERIFY2(msg.contains(QString::fromStdString(fault)), qPrintable("message lacks '" + QString::fromStdString(fault) + "': " + msg));
    return;
  }
  QFAIL(qPrintable("no error; expected " + QString::fromStdString(fault)));
}

}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void parsesValidHeader();
  void readsF32F16Bf16();
  void faults_data();
  void faults();
  void everyTruncationFails();
  void corruptedBytesNeverCrash();
  void writerRoundTrip();
  void writerRefusesDuplicatesAndCancels();
  void missingFileNamesPath();
};

void TestSafetensors::parsesValidHeader() {
  const std::string f = validFile();
  const duo::SafetensorsHeader h =
      duo::parseSafetensorsHeader(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "v.safetensors");
  QCOMPARE(h.tensors.size(), size_t(2));
  QCOMPARE(h.tensors[0].name, std::string("a"));
  QCOMPARE(h.tensors[0].shape, (std::vector<int64_t>{2, 3}));
  QCOMPARE(h.tensors[1].dtype, std::string("F16"));
  QCOMPARE(h.tensors[1].begin, uint64_t(24));
  QCOMPARE(h.metadata.at("format"), std::string("pt"));
  QCOMPARE(h.dataOffset, uint64_t(8 + f.size() - 8 - 32));
  QVERIFY(h.find("b") != nullptr);
  QVERIFY(h.find("c") == nullptr);
}

void TestSafetensors::readsF32F16Bf16() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("m.safetensors").toStdString();
  // c: BF16 [3] = 1.0, -3.0, 0.15625 (0x3E20)
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},)"
      R"("c":{"dtype":"BF16","shape":[3],"data_offsets":[32,38]},"d":{"dtype":"I64","shape":[1],"data_offsets":[38,46]}})";
  duo::writeFileAtomic(path, stFile(header, floatBytes({1, 2, 3, 4, 5, 6}) + u16Bytes({0x3C00, 0xC000, 0x3800, 0x0000}) +
                                                u16Bytes({0x3F80, 0xC040, 0x3E20}) + std::string(8, '\0')));
  const duo::SafetensorsFile f(path);
  std::vector<float> a(6), b(4), c(3);
  f.readF32(*f.header().find("a"), a.data());
  f.readF32(*f.header().find("b"), b.data());
  f.readF32(*f.header().find("c"), c.data());
  QCOMPARE(a, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  QCOMPARE(b, (std::vector<float>{1.0f, -2.0f, 0.5f, 0.0f}));
  QCOMPARE(c, (std::vector<float>{1.0f, -3.0f, 0.15625f}));
  float d = 0;
  try {
    f.readF32(*f.header().find("d"), &d);
    QFAIL("I64 accepted");
  } catch (const duo::Error& e) {
    QVERIFY(QString(e.what()).contains("m.safetensors"));
    QVERIFY(QString(e.what()).contains("tensor 'd': dtype I64 is not supported"));
  }
}

void TestSafetensors::faults_data() {
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QString>("fault");
  auto row = [](const char* name, const std::string& bytes, const char* fault) {
    QTest::newRow(name) << QByteArray(bytes.data(), qsizetype(bytes.size())) << QString(fault);
  };
  const std::string d24 = floatBytes({1, 2, 3, 4, 5, 6});
  auto one = [&](const std::string& entry, const std::string& data = std::string(24, '\0')) {
    return stFile("{\"a\":" + entry + "}", data);
  };
  row("shorter than 8 bytes", "abc", "shorter than the 8-byte header length");
  std::string huge(8, '\0');
  const uint64_t big = (200ull << 20);
  std::memcpy(huge.data(), &big, 8);
  row("header length over the limit", huge + "{}", "outside the accepted range");
  std::string claims(8, '\0');
  const uint64_t n100 = 100;
  std::memcpy(claims.data(), &n100, 8);
  row("header longer than the file", claims + "{}", "truncated: header claims 100 bytes");
  row("header not an object", stFile("[1,2]", ""), "header is not a JSON object");
  row("invalid JSON", stFile("{\"a\":", ""), "header is not valid JSON");
  row("deep nesting", stFile("{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}", ""), "nests deeper");
  row("entry not an object", one("3"), "tensor 'a': entry is not an object");
  row("missing dtype", one(R"({"shape":[6],"data_offsets":[0,24]})"), "tensor 'a': missing string 'dtype'");
  row("missing shape", one(R"({"dtype":"F32","data_offsets":[0,24]})"), "tensor 'a': missing array 'shape'");
  row("bad offsets", one(R"({"dtype":"F32","shape":[6],"data_offsets":[0]})"), "'data_offsets' must be an array of two");
  row("unknown dtype", one(R"({"dtype":"F7","shape":[6],"data_offsets":[0,24]})"), "unknown dtype 'F7'");
  row("negative dim", one(R"({"dtype":"F32","shape":[-6],"data_offsets":[0,24]})"), "expected a non-negative integer");
  row("fractional dim", one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,24]})"), "expected a non-negative integer");
  row("shape x dtype != length", one(R"({"dtype":"F32","shape":[5],"data_offsets":[0,24]})"),
      "shape [5] x F32 = 20 bytes, but data_offsets [0, 24] span 24 bytes");
  row("reversed offsets", one(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})"), "are reversed");
  row("out of bounds", one(R"({"dtype":"F32","shape":[6],"data_offsets":[0,24]})", std::string(20, '\0')),
      "lie outside the data section of 20 bytes");
  row("overflowing shape",
      one(R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,24]})"), "overflows");
  row("overlap",
      stFile(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
             d24),
      "tensors 'a' [0, 16) and 'b' [8, 24) overlap");
  row("duplicate name",
      stFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
             d24),
      "tensor 'a' appears twice");
  row("metadata not strings", stFile(R"({"__metadata__":{"k":1}})", ""), "__metadata__ 'k' is not a string");
  row("too many dims", one(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,6],"data_offsets":[0,24]})"), "9 dimensions");
}

void TestSafetensors::faults() {
  QFETCH(QByteArray, bytes);
  QFETCH(QString, fault);
  expectFault(bytes.toStdString(), fault.toStdString());
}

// Every prefix of a valid file is refused with an error naming the file (no crash, no read
// past the buffer: ASan builds check the latter).
void TestSafetensors::everyTruncationFails() {
  const std::string f = validFile();
  for (size_t n = 0; n < f.size(); ++n) {
    try {
      duo::parseSafetensorsHeader(reinterpret_cast<const uint8_t*>(f.data()), n, "t.safetensors");
      QFAIL(qPrintable(QString("prefix of %1 bytes accepted").arg(n)));
    } catch (const duo::Error& e) {
      QVERIFY(QString(e.what()).startsWith("t.safetensors: "));
    }
  }
}

// Random byte flips in header and data: parsing either succeeds or throws duo::Error.
void TestSafetensors::corruptedBytesNeverCrash() {
  const std::string f = validFile();
  std::mt19937 rng(7);
  int refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string g = f;
    const int flips = 1 + int(rng() % 3);
    for (int k = 0; k < flips; ++k) g[rng() % g.size()] = char(rng() % 256);
    try {
      duo::parseSafetensorsHeader(reinterpret_cast<const uint8_t*>(g.data()), g.size(), "c.safetensors");
    } catch (const duo::Error&) {
      ++refused;
    }
  }
  QVERIFY(refused > 1000);  // most flips land in the JSON and break it
}

void TestSafetensors::writerRoundTrip() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("w.safetensors").toStdString();
  const torch::Tensor a = torch::arange(12, torch::kFloat32).reshape({3, 4});       // [3, 4] f32
  const torch::Tensor b = torch::tensor({1.5, -2.0}, torch::kFloat64);              // [2] f64 -> stored F32
  const torch::Tensor c = torch::arange(6, torch::kFloat32).reshape({2, 3}).t();    // [3, 2] non-contiguous
  duo::saveSafetensors(path, {{"z.first", a}, {"b", b}, {"c", c}}, {{"format", "pt"}});
  const duo::SafetensorsFile f(path);
  QCOMPARE(f.header().dataOffset % 8, uint64_t(0));
  QCOMPARE(f.header().metadata.at("format"), std::string("pt"));
  QCOMPARE(f.header().tensors[0].name, std::string("z.first"));  // given order kept
  std::vector<float> va(12), vb(2), vc(6);
  f.readF32(*f.header().find("z.first"), va.data());
  f.readF32(*f.header().find("b"), vb.data());
  f.readF32(*f.header().find("c"), vc.data());
  QCOMPARE(va[11], 11.0f);
  QCOMPARE(vb, (std::vector<float>{1.5f, -2.0f}));
  QCOMPARE(vc, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  QCOMPARE(f.header().find("c")->shape, (std::vector<int64_t>{3, 2}));
}

void TestSafetensors::writerRefusesDuplicatesAndCancels() {
  QTemporaryDir dir;
  const std::string path = dir.filePath("w.safetensors").toStdString();
  const torch::Tensor t = torch::ones({4});
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::saveSafetensors(path, {{"a", t}, {"a", t}}));
  QVERIFY(!std::filesystem::exists(path));
  duo::ProgressFn cancelSecond = [](const duo::Progress& p) { return p.done < 1; };
  QVERIFY_THROWS_EXCEPTION(duo::Cancelled, duo::saveSafetensors(path, {{"a", t}, {"b", t}}, {}, cancelSecond));
  QVERIFY(!std::filesystem::exists(path));
  QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()),
                         std::filesystem::directory_iterator{}),
           0L);  // no temp file left behind
}

void TestSafetensors::missingFileNamesPath() {
  try {
    duo::SafetensorsFile f("/nonexistent/dir/model.safetensors");
    QFAIL("no error");
  } catch (const duo::Error& e) {
    QVERIFY(QString(e.what()).contains("/nonexistent/dir/model.safetensors: cannot open"));
  }
}

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
