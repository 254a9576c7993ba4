// SPDX-License-Identifier: GPL-3.0-or-later
// core/model/io GGUF parser: every metadata value type, alignment, and each structural fault a
// file can have (the error names the file and the fault); truncations and random corruption
// never crash.
#include <QtTest>
#include <random>

#include "core/common/error.h"
#include "core/model/io/gguf.h"
#include "unit/test_gguf_builder.h"

using duo::test::GgufBuilder;

namespace {

const std::string kFile = "/models/broken.gguf";

duo::GgufHeader parse(const std::string& bytes, const std::string& file = kFile) {
  return duo::parseGguf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), file);
}

// A small valid file: a few metadata keys, an F32 [4, 2] tensor and a Q8_0 [32] tensor.
GgufBuilder validBuilder() {
  GgufBuilder b;
  b.kvStr("general.architecture", "llama");
  b.kvU32("llama.block_count", 2);
  b.kvStrArray("tokenizer.ggml.tokens", {"a", "b", "c"});
  b.tensorF32("w", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  b.tensor("q", {32}, 8, std::string(34, '\x01'));
  return b;
}

}  // namespace

class TestGguf : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void parsesAllValueTypes();
  void tensorsAndData();
  void version2AndAlignment();
  void faults_data();
  void faults();
  void everyTruncationFails();
  void corruptedBytesNeverCrash();
  void typedMetadataLookups();
};

void TestGguf::parsesAllValueTypes() {
  GgufBuilder b;
  b.kv<uint8_t>("u8", 0, 200);
  b.kv<int8_t>("i8", 1, -100);
  b.kv<uint16_t>("u16", 2, 60000);
  b.kv<int16_t>("i16", 3, -30000);
  b.kvU32("u32", 4000000000u);
  b.kvI32("i32", -2000000000);
  b.kvF32("f32", 0.25f);
  b.kvBool("bool", true);
  b.kvStr("str", "héllo");
  b.kvU64("u64", 1ull << 40);
  b.kv<int64_t>("i64", 11, -(1ll << 40));
  b.kv<double>("f64", 12, 1e-300);
  b.kvStrArray("strs", {"x", "", "zz"});
  b.kvI32Array("ints", {-1, 0, 7});
  b.kvF32Array("floats", {1.5f, -2.0f});
  std::string nested;  // [[1, 2], [3]] as an array of u16 arrays
  GgufBuilder::put<uint32_t>(nested, 9);
  GgufBuilder::put<uint64_t>(nested, 2);
  for (const std::vector<uint16_t>& inner : {std::vector<uint16_t>{1, 2}, std::vector<uint16_t>{3}}) {
    GgufBuilder::put<uint32_t>(nested, 2);
    GgufBuilder::put<uint64_t>(nested, inner.size());
    for (uint16_t x : inner) GgufBuilder::put<uint16_t>(nested, x);
  }
  b.kvRaw("nested", 9, nested);
  std::string bools;
  GgufBuilder::put<uint32_t>(bools, 7);
  GgufBuilder::put<uint64_t>(bools, 2);
  bools += std::string("\x01\x00", 2);
  b.kvRaw("bools", 9, bools);
  const duo::GgufHeader h = parse(b.build());
  QCOMPARE(h.keys.size(), size_t(17));
  QCOMPARE(h.keys.front(), std::string("u8"));
  QCOMPARE(h.find("u8")->i, int64_t(200));
  QCOMPARE(h.find("i8")->i, int64_t(-100));
  QCOMPARE(h.find("u16")->i, int64_t(60000));
  QCOMPARE(h.find("i16")->i, int64_t(-30000));
  QCOMPARE(h.find("u32")->i, int64_t(4000000000ll));
  QCOMPARE(h.find("i32")->i, int64_t(-2000000000));
  QCOMPARE(h.find("f32")->f, 0.25);
  QVERIFY(h.find("bool")->b);
  QCOMPARE(h.find("str")->s, std::string("héllo"));
  QCOMPARE(h.find("u64")->i, int64_t(1ll << 40));
  QCOMPARE(h.find("i64")->i, -(int64_t(1) << 40));
  QCOMPARE(h.find("f64")->f, 1e-300);
  QCOMPARE(h.find("strs")->strings, (std::vector<std::string>{"x", "", "zz"}));
  QCOMPARE(h.find("ints")->ints, (std::vector<int64_t>{-1, 0, 7}));
  QCOMPARE(h.find("floats")->floats, (std::vector<double>{1.5, -2.0}));
  const duo::GgufValue& n = *h.find("nested");
  QCOMPARE(n.elemType, duo::GgufType::Array);
  QCOMPARE(n.items.size(), size_t(2));
  QCOMPARE(n.items[0].ints, (std::vector<int64_t>{1, 2}));
  QCOMPARE(n.items[1].ints, (std::vector<int64_t>{3}));
  QCOMPARE(h.find("bools")->ints, (std::vector<int64_t>{1, 0}));
  QCOMPARE(h.find("strs")->summary(), std::string("[3 x STRING]"));
  QVERIFY(h.find("missing") == nullptr);
}

void TestGguf::tensorsAndData() {
  const std::string bytes = validBuilder().build();
  const duo::GgufHeader h = parse(bytes);
  QCOMPARE(h.version, uint32_t(3));
  QCOMPARE(h.tensors.size(), size_t(2));
  const duo::GgufTensorInfo& w = *h.tensor("w");
  QCOMPARE(w.ne, (std::vector<int64_t>{4, 2}));
  QCOMPARE(w.shape(), (std::vector<int64_t>{2, 4}));
  QCOMPARE(w.elements, int64_t(8));
  QCOMPARE(w.bytes, int64_t(32));
  QCOMPARE(h.tensor("q")->bytes, int64_t(34));
  QCOMPARE(h.tensor("q")->offset, uint64_t(32));
  QCOMPARE(h.dataOffset % 32, uint64_t(0));
  float first;
  std::memcpy(&first, bytes.data() + h.dataOffset + w.offset, 4);
  QCOMPARE(first, 1.0f);
}

void TestGguf::version2AndAlignment() {
  GgufBuilder b = validBuilder();
  b.version = 2;
  QCOMPARE(parse(b.build()).version, uint32_t(2));
  GgufBuilder a = validBuilder();
  a.alignment = 64;
  a.kvU32("general.alignment", 64);
  const std::string bytes = a.build();
  const duo::GgufHeader h = parse(bytes);
  QCOMPARE(h.alignment, uint64_t(64));
  QCOMPARE(h.dataOffset % 64, uint64_t(0));
  QCOMPARE(h.tensor("q")->offset, uint64_t(64));
}

void TestGguf::faults_data() {
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QString>("fault");
  auto row = [](const char* name, const std::string& bytes, const char* fault) {
    QTest::newRow(name) << QByteArray(bytes.data(), qsizetype(bytes.size())) << QString(fault);
  };
  auto with = [](const std::function<void(GgufBuilder&)>& edit) {
    GgufBuilder b = validBuilder();
    edit(b);
    return b.build();
  };
  std::string head = "GGUF";
  GgufBuilder::put<uint32_t>(head, 3);

  row("empty", "", "not a GGUF file: only 0 bytes");
  row("bad magic", "GGML" + std::string(20, '\0'), "not a GGUF file (bad magic bytes)");
  row("version 1", with([](GgufBuilder& b) { b.version = 1; }), "GGUF version 1 is not supported");
  row("version 4", with([](GgufBuilder& b) { b.version = 4; }), "GGUF version 4 is not supported");
  row("big-endian", with([](GgufBuilder& b) { b.version = 0x03000000; }), "big-endian GGUF is not supported");
  row("counts missing", head, "truncated: reading tensor count");
  {
    std::string s = head;
    GgufBuilder::put<uint64_t>(s, 1ull << 40);
    GgufBuilder::put<uint64_t>(s, 0);
    row("absurd tensor count", s, "tensor count 1099511627776 exceeds the limit");
  }
  {
    std::string s = head;
    GgufBuilder::put<uint64_t>(s, 0);
    GgufBuilder::put<uint64_t>(s, 1);
    GgufBuilder::put<uint64_t>(s, 1ull << 50);
    row("key longer than file", s, "truncated: metadata key at byte 24 claims 1125899906842624 bytes");
  }
  row("unknown value type", with([](GgufBuilder& b) { b.kvRaw("x", 13, ""); }), "metadata 'x' has unknown value type 13");
  row("duplicate key", with([](GgufBuilder& b) { b.kvU32("llama.block_count", 3); }),
      "metadata key 'llama.block_count' appears twice");
  row("bool byte 2", with([](GgufBuilder& b) { b.kv<uint8_t>("flag", 7, 2); }), "'flag': boolean byte 2 is neither 0 nor 1");
  row("u64 too large", with([](GgufBuilder& b) { b.kvU64("big", ~0ull); }), "'big': u64 value 18446744073709551615 is too large");
  {
    std::string v;
    GgufBuilder::put<uint32_t>(v, 5);
    GgufBuilder::put<uint64_t>(v, 1ull << 40);
    row("array longer than file", with([&](GgufBuilder& b) { b.kvRaw("arr", 9, v); }),
        "truncated: 'arr' claims 1099511627776 I32 elements");
  }
  {
    std::string v;
    GgufBuilder::put<uint32_t>(v, 99);
    GgufBuilder::put<uint64_t>(v, 0);
    row("unknown array type", with([&](GgufBuilder& b) { b.kvRaw("arr", 9, v); }), "'arr': unknown array element type 99");
  }
  {
    std::string v;
    for (int d = 0; d < 6; ++d) {
      GgufBuilder::put<uint32_t>(v, 9);
      GgufBuilder::put<uint64_t>(v, 1);
    }
    GgufBuilder::put<uint32_t>(v, 4);
    GgufBuilder::put<uint64_t>(v, 0);
    row("arrays nested too deep", with([&](GgufBuilder& b) { b.kvRaw("deep", 9, v); }), "'deep': arrays nest deeper than 4");
  }
  row("alignment not a power of two", with([](GgufBuilder& b) { b.kvU32("general.alignment", 48); }),
      "general.alignment 48 is not a power of two");
  row("alignment wrong type", with([](GgufBuilder& b) { b.kvStr("general.alignment", "32"); }), "general.alignment");
  row("zero dims", with([](GgufBuilder& b) { b.tensor("z", {}, 0, ""); }), "tensor 'z': 0 dimensions (1 to 4 accepted)");
  row("five dims", with([](GgufBuilder& b) { b.tensor("z", {1, 1, 1, 1, 1}, 0, std::string(4, '\0')); }),
      "tensor 'z': 5 dimensions");
  row("zero-sized dim", with([](GgufBuilder& b) { b.tensor("z", {4, 0}, 0, ""); }), "tensor 'z': dimension 1 = 0 is zero");
  row("element count overflow",
      with([](GgufBuilder& b) { b.tensor("z", {1ull << 32, 1ull << 32}, 0, ""); }), "tensor 'z': dimension 1 = 4294967296");
  row("unknown tensor type", with([](GgufBuilder& b) { b.tensor("z", {4}, 31, std::string(16, '\0')); }),
      "tensor 'z': unknown storage type 31");
  row("row not whole blocks", with([](GgufBuilder& b) { b.tensor("z", {16, 2}, 2, std::string(36, '\0')); }),
      "tensor 'z': row length 16 is not a multiple of the Q4_0 block size 32");
  row("duplicate tensor", with([](GgufBuilder& b) { b.tensorF32("w", {1}, {0}); }), "tensor 'w' appears twice");
  row("unaligned offset", with([](GgufBuilder& b) { b.tensorF32("z", {1}, {0}, 70); }),
      "tensor 'z': offset 70 is not a multiple of the alignment 32");
  row("out of bounds", with([](GgufBuilder& b) { b.tensorF32("z", {1}, {0}, 1 << 20); }),
      "tensor 'z' data [1048576, 1048580) is not within the data section");
  row("overlap", with([](GgufBuilder& b) { b.tensorF32("z", {16}, std::vector<float>(16), 0); }),
      "tensors 'w' [0, 32) and 'z' [0, 64) overlap");
  {
    const std::string full = validBuilder().build();
    row("truncated data", full.substr(0, full.size() - 10), "tensor 'q' data [32, 66) is not within the data section");
  }
}

void TestGguf::faults() {
  QFETCH(QByteArray, bytes);
  QFETCH(QString, fault);
  try {
    parse(bytes.toStdString());
  } catch (const duo::Error& e) {
    const QString msg = e.what();
    QVERIFY2(msg.startsWith(QString::fromStdString(kFile) + ": "), qPrintable(msg));
    QVERIFY2(msg.contains(fault), qPrintable("'" + msg + "' lacks '" + fault + "'"));
    return;
  }
  QFAIL("accepted");
}

void TestGguf::everyTruncationFails() {
  const std::string f = validBuilder().build();
  for (size_t n = 0; n < f.size(); ++n) {
    try {
      parse(f.substr(0, n), "t.gguf");
      QFAIL(qPrintable(QString("prefix of %1 bytes accepted").arg(n)));
    } catch (const duo::Error& e) {
      QVERIFY(QString(e.what()).startsWith("t.gguf: "));
    }
  }
}

void TestGguf::corruptedBytesNeverCrash() {
  const std::string f = validBuilder().build();
  std::mt19937 rng(11);
  int refused = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::string g = f;
    const int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) g[rng() % g.size()] = char(rng() % 256);
    try {
      parse(g, "c.gguf");
    } catch (const duo::Error&) {
      ++refused;
    }
  }
  QVERIFY(refused > 500);
}

void TestGguf::typedMetadataLookups() {
  const duo::GgufHeader h = parse(validBuilder().build());
  const duo::GgufMeta m(h, "m.gguf");
  QCOMPARE(m.integer("llama.block_count"), int64_t(2));
  QCOMPARE(m.integer("absent", 7), int64_t(7));
  QCOMPARE(m.number("llama.block_count", 0), 2.0);
  QCOMPARE(m.string("general.architecture", ""), std::string("llama"));
  QVERIFY(m.array("tokenizer.ggml.tokens", duo::GgufType::String) != nullptr);
  QVERIFY(m.array("absent", duo::GgufType::String) == nullptr);
  try {
    m.integer("general.architecture");
    QFAIL("string read as integer");
  } catch (const duo::Error& e) {
    QCOMPARE(QString(e.what()), QString("m.gguf: metadata 'general.architecture' should be an integer, is STRING"));
  }
  QVERIFY_THROWS_EXCEPTION(duo::Error, m.integer("absent"));
  QVERIFY_THROWS_EXCEPTION(duo::Error, m.array("tokenizer.ggml.tokens", duo::GgufType::F32));
  QVERIFY_THROWS_EXCEPTION(duo::Error, m.boolean("llama.block_count", false));
}

QTEST_GUILESS_MAIN(TestGguf)
#include "test_gguf.moc"
