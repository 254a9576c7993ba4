// SPDX-License-Identifier: GPL-3.0-or-later
// core/model/io dequant: each GGML storage type against hand-made blocks with values worked out
// by hand from the block layout, and against the PyPI `gguf` package's dequantisation of random
// blocks (tests/reference/gguf_refs.json, written by make_gguf_refs.py). Half/bfloat16 edge cases.
#include <QtTest>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/model/io/dequant.h"

using duo::GgmlType;

namespace {

std::vector<float> run(GgmlType t, const std::vector<uint8_t>& block, int64_t n) {
  std::vector<float> y(size_t(n), -999.0f);
  duo::dequantize(t, block.data(), y.data(), n);
  return y;
}

void putHalf(std::vector<uint8_t>& b, size_t at, uint16_t h) { std::memcpy(b.data() + at, &h, 2); }

// Q4_K/Q5_K scale packing, written from the format description: sub-blocks 0-3 keep their
// 6-bit scale/min in bytes 0-3 / 4-7; sub-blocks 4-7 keep the low 4 bits in bytes 8-11 (scale
// low nibble, min high nibble) and the top 2 bits in bits 6-7 of bytes 0-3 (scale) / 4-7 (min).
std::vector<uint8_t> packScales(const int sc[8], const int mn[8]) {
  std::vector<uint8_t> q(12, 0);
  for (int j = 0; j < 4; ++j) {
    q[size_t(j)] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[size_t(j + 4)] = uint8_t((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    q[size_t(j + 8)] = uint8_t((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  return q;
}

std::vector<uint8_t> fromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

class TestGgufDequant : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void traitsAndSizes();
  void q8_0();
  void q4_0();
  void q4_1();
  void q5_0();
  void q4_k();
  void q5_k();
  void q6_k();
  void halfAndBf16();
  void halfRoundTripAllValues();
  void matchesGgufPackage_data();
  void matchesGgufPackage();
  void unsupportedTypesNamed();
};

void TestGgufDequant::traitsAndSizes() {
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q4_K), 512), int64_t(288));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q6_K), 256), int64_t(210));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q5_K), 256), int64_t(176));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q8_0), 64), int64_t(68));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q4_1), 32), int64_t(20));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q5_0), 64), int64_t(44));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q5_1), 32), int64_t(24));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q2_K), 256), int64_t(84));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q3_K), 512), int64_t(220));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::BF16), 3), int64_t(6));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::Q4_K), 255), int64_t(-1));  // not whole blocks
  QCOMPARE(duo::ggmlByteSize(99, 32), int64_t(-1));
  QCOMPARE(duo::ggmlByteSize(uint32_t(GgmlType::F64), int64_t(1) << 61), int64_t(-1));  // 2^64 bytes: overflow
  QCOMPARE(duo::ggmlTypeName(3), std::string("Q4_1"));
  QCOMPARE(duo::ggmlTypeName(99), std::string("type 99"));
  // zero elements: no access at all, null pointers allowed (fuzzing found memcpy(nullptr, ..., 0))
  duo::dequantize(GgmlType::F32, nullptr, nullptr, 0);
  duo::dequantize(GgmlType::Q4_K, nullptr, nullptr, 0);
}

// Q8_0: d = 0.5 (0x3800), q_j = j - 16  ->  y_j = (j - 16) / 2.
void TestGgufDequant::q8_0() {
  std::vector<uint8_t> b(34);
  putHalf(b, 0, 0x3800);
  for (int j = 0; j < 32; ++j) b[size_t(2 + j)] = uint8_t(int8_t(j - 16));
  const std::vector<float> y = run(GgmlType::Q8_0, b, 32);
  QCOMPARE(y[0], -8.0f);
  QCOMPARE(y[16], 0.0f);
  QCOMPARE(y[31], 7.5f);
  for (int j = 0; j < 32; ++j) QCOMPARE(y[size_t(j)], (j - 16) * 0.5f);
}

// Q4_0: d = 0.25 (0x3400); byte j = low j, high 15 - j. y_j = (j - 8)/4, y_{j+16} = (7 - j)/4.
void TestGgufDequant::q4_0() {
  std::vector<uint8_t> b(18);
  putHalf(b, 0, 0x3400);
  for (int j = 0; j < 16; ++j) b[size_t(2 + j)] = uint8_t(j | ((15 - j) << 4));
  const std::vector<float> y = run(GgmlType::Q4_0, b, 32);
  QCOMPARE(y[0], -2.0f);     // (0 - 8) * 0.25
  QCOMPARE(y[15], 1.75f);    // (15 - 8) * 0.25
  QCOMPARE(y[16], 1.75f);    // high nibble of byte 0 = 15
  QCOMPARE(y[31], -2.0f);    // high nibble of byte 15 = 0
  for (int j = 0; j < 16; ++j) {
    QCOMPARE(y[size_t(j)], (j - 8) * 0.25f);
    QCOMPARE(y[size_t(j + 16)], (7 - j) * 0.25f);
  }
}

// Q5_0: d = 0.25; nibbles as in q4_0; qh = 0xF0F0F0F0 sets the fifth bit of elements 4-7, 12-15,
// 20-23, 28-31. y = (q - 16) / 4.
void TestGgufDequant::q5_0() {
  std::vector<uint8_t> b(22);
  putHalf(b, 0, 0x3400);
  const uint32_t qh = 0xF0F0F0F0u;
  std::memcpy(b.data() + 2, &qh, 4);
  for (int j = 0; j < 16; ++j) b[size_t(6 + j)] = uint8_t(j | ((15 - j) << 4));
  const std::vector<float> y = run(GgmlType::Q5_0, b, 32);
  QCOMPARE(y[0], -4.0f);   // q = 0
  QCOMPARE(y[4], 1.0f);    // q = 4 + 16
  QCOMPARE(y[16], -0.25f); // high nibble of byte 0 = 15, bit 16 clear
  QCOMPARE(y[20], 2.75f);  // high nibble of byte 4 = 11, bit 20 set: 27
  for (int e = 0; e < 32; ++e) {
    const int nib = e < 16 ? e : 15 - (e - 16);
    const int q = nib + (((qh >> e) & 1u) ? 16 : 0);
    QCOMPARE(y[size_t(e)], (q - 16) * 0.25f);
  }
  // Q5_1 on the same bits with d = 0.25 and m = -1 (the block gains m before qh): y = q / 4 - 1.
  std::vector<uint8_t> b1(24);
  putHalf(b1, 0, 0x3400);
  putHalf(b1, 2, 0xBC00);
  std::copy(b.begin() + 2, b.end(), b1.begin() + 4);
  const std::vector<float> y1 = run(GgmlType::Q5_1, b1, 32);
  for (int e = 0; e < 32; ++e) QCOMPARE(y1[size_t(e)], y[size_t(e)] + 4.0f - 1.0f);
}

// Q4_1: d = 0.5, m = -1 (0xBC00); same nibbles as above. y = q/2 - 1.
void TestGgufDequant::q4_1() {
  std::vector<uint8_t> b(20);
  putHalf(b, 0, 0x3800);
  putHalf(b, 2, 0xBC00);
  for (int j = 0; j < 16; ++j) b[size_t(4 + j)] = uint8_t(j | ((15 - j) << 4));
  const std::vector<float> y = run(GgmlType::Q4_1, b, 32);
  QCOMPARE(y[0], -1.0f);
  QCOMPARE(y[15], 6.5f);
  QCOMPARE(y[16], 6.5f);
  QCOMPARE(y[31], -1.0f);
  for (int j = 0; j < 16; ++j) QCOMPARE(y[size_t(j + 16)], (15 - j) * 0.5f - 1.0f);
}

// Q4_K: d = 1 (0x3C00), dmin = 0.5 (0x3800); scales 1..8 except sub-block 5 = 37 (uses the
// high bits), mins 0..7 except sub-block 6 = 50. Nibbles: byte l of chunk c has low = l % 16,
// high = 15 - l % 16. Element e is in sub-block e/32; chunk c = e/64 holds sub-blocks 2c (low
// nibbles of its 32 bytes) and 2c+1 (high nibbles). y = d*sc*q - dmin*mn.
void TestGgufDequant::q4_k() {
  const int sc[8] = {1, 2, 3, 4, 5, 37, 7, 8};
  const int mn[8] = {0, 1, 2, 3, 4, 5, 50, 7};
  std::vector<uint8_t> b(144, 0);
  putHalf(b, 0, 0x3C00);
  putHalf(b, 2, 0x3800);
  const std::vector<uint8_t> s = packScales(sc, mn);
  std::copy(s.begin(), s.end(), b.begin() + 4);
  for (int i = 0; i < 128; ++i) b[size_t(16 + i)] = uint8_t((i % 16) | ((15 - i % 16) << 4));
  const std::vector<float> y = run(GgmlType::Q4_K, b, 256);
  QCOMPARE(y[0], 0.0f);              // sub-block 0, q = 0: 1*1*0 - 0.5*0
  QCOMPARE(y[1], 1.0f);              // q = 1
  QCOMPARE(y[32], 2.0f * 15 - 0.5f); // sub-block 1 (high nibble of byte 0 = 15), sc 2, mn 1
  QCOMPARE(y[160 + 3], 37.0f * 12 - 2.5f);  // sub-block 5: high nibble of byte 3 of chunk 2 = 12
  QCOMPARE(y[192 + 1], 7.0f * 1 - 25.0f);   // sub-block 6: low nibble of byte 1 of chunk 3, mn 50
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32;
    const int byte = l % 16;  // byte index within the chunk is l; its low nibble is l % 16
    const int q = (j % 2 == 0) ? byte : 15 - byte;
    QCOMPARE(y[size_t(e)], float(sc[j]) * q - 0.5f * mn[j]);
  }
}

// Q5_K: as Q4_K plus qh: bit j of qh[l] adds 16 to element l of sub-block j. Here qh[l] = l
// for l < 32, so sub-block j gets +16 where bit j of l is set.
void TestGgufDequant::q5_k() {
  const int sc[8] = {1, 2, 3, 4, 5, 6, 7, 60};
  const int mn[8] = {1, 1, 1, 1, 1, 1, 1, 33};
  std::vector<uint8_t> b(176, 0);
  putHalf(b, 0, 0x3800);  // d = 0.5
  putHalf(b, 2, 0x3400);  // dmin = 0.25
  const std::vector<uint8_t> s = packScales(sc, mn);
  std::copy(s.begin(), s.end(), b.begin() + 4);
  for (int l = 0; l < 32; ++l) b[size_t(16 + l)] = uint8_t(l);
  for (int i = 0; i < 128; ++i) b[size_t(48 + i)] = uint8_t(3 | (9 << 4));  // low 3, high 9
  const std::vector<float> y = run(GgmlType::Q5_K, b, 256);
  QCOMPARE(y[0], 0.5f * 1 * 3 - 0.25f);           // sub-block 0, l = 0: no high bit
  QCOMPARE(y[1], 0.5f * 1 * (3 + 16) - 0.25f);    // l = 1: bit 0 set
  QCOMPARE(y[224 + 31], 0.5f * 60 * 9 - 0.25f * 33);  // sub-block 7, l = 31: bit 7 of 31 clear
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32;
    const int q = ((j % 2 == 0) ? 3 : 9) + (((l >> j) & 1) ? 16 : 0);
    QCOMPARE(y[size_t(e)], 0.5f * sc[j] * q - 0.25f * mn[j]);
  }
}

// Q6_K: d = 0.5 at the end; scales_k = k - 8 (signed). ql bytes 0x21 (low 1, high 2) in the
// first half and 0x43 in the second; qh = 0b11100100 (2-bit fields 0,1,2,3 for the four
// 32-element groups). q = low4 | high2 << 4, value = d * scale * (q - 32).
void TestGgufDequant::q6_k() {
  std::vector<uint8_t> b(210, 0);
  for (int i = 0; i < 64; ++i) b[size_t(i)] = 0x21;
  for (int i = 64; i < 128; ++i) b[size_t(i)] = 0x43;
  for (int i = 0; i < 64; ++i) b[size_t(128 + i)] = 0xE4;
  for (int k = 0; k < 16; ++k) b[size_t(192 + k)] = uint8_t(int8_t(k - 8));
  putHalf(b, 208, 0x3800);
  const std::vector<float> y = run(GgmlType::Q6_K, b, 256);
  // element 0: half 0, group 0 -> low nibble of ql[0] = 1, qh bits 0-1 = 0: q = 1, scale_0 = -8
  QCOMPARE(y[0], 0.5f * -8 * (1 - 32));
  // element 100: half 0, group 3 (l = 4) -> high nibble of ql[36] = 2, qh bits 6-7 = 3: q = 50,
  // scale index 6 + 4/16 = 6 -> -2
  QCOMPARE(y[100], 0.5f * -2 * (50 - 32));
  for (int e = 0; e < 256; ++e) {
    const int half = e / 128, g = (e % 128) / 32, l = e % 32;
    const int low = half == 0 ? (g < 2 ? 1 : 2) : (g < 2 ? 3 : 4);
    const int q = low | (g << 4);  // qh field g holds the value g
    const int scale = half * 8 + g * 2 + l / 16 - 8;
    QCOMPARE(y[size_t(e)], 0.5f * scale * (q - 32));
  }
}

void TestGgufDequant::halfAndBf16() {
  QCOMPARE(duo::halfToFloat(0x3C00), 1.0f);
  QCOMPARE(duo::halfToFloat(0xC000), -2.0f);
  QCOMPARE(duo::halfToFloat(0x7BFF), 65504.0f);
  QCOMPARE(duo::halfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  QCOMPARE(duo::halfToFloat(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  QCOMPARE(duo::halfToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  QVERIFY(std::isinf(duo::halfToFloat(0x7C00)) && duo::halfToFloat(0x7C00) > 0);
  QVERIFY(std::isinf(duo::halfToFloat(0xFC00)) && duo::halfToFloat(0xFC00) < 0);
  QVERIFY(std::isnan(duo::halfToFloat(0x7E00)));
  QVERIFY(std::signbit(duo::halfToFloat(0x8000)));
  QCOMPARE(duo::bf16ToFloat(0x3F80), 1.0f);
  QCOMPARE(duo::bf16ToFloat(0xC040), -3.0f);
  QCOMPARE(duo::floatToHalf(1.0f), uint16_t(0x3C00));
  QCOMPARE(duo::floatToHalf(65520.0f), uint16_t(0x7C00));  // rounds up to inf
  QCOMPARE(duo::floatToHalf(1.0f + std::ldexp(1.0f, -11)), uint16_t(0x3C00));  // tie -> even
  QCOMPARE(duo::floatToHalf(std::ldexp(1.0f, -25)), uint16_t(0x0000));  // tie -> even (0)
  QCOMPARE(duo::floatToHalf(std::ldexp(1.5f, -25)), uint16_t(0x0001));
  // the bulk F16 path (table) and BF16 path through dequantize()
  const std::vector<uint16_t> h = {0x3C00, 0xC000, 0x0001};
  std::vector<float> y(3);
  duo::dequantize(GgmlType::F16, h.data(), y.data(), 3);
  QCOMPARE(y, (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)}));
  duo::dequantize(GgmlType::BF16, h.data(), y.data(), 1);
  QCOMPARE(y[0], duo::bf16ToFloat(0x3C00));
}

void TestGgufDequant::halfRoundTripAllValues() {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = uint16_t(i);
    const float f = duo::halfToFloat(h);
    if (std::isnan(f)) continue;
    if (duo::floatToHalf(f) != h) QFAIL(qPrintable(QString("half 0x%1 does not round-trip").arg(i, 4, 16)));
  }
}

void TestGgufDequant::matchesGgufPackage_data() {
  QTest::addColumn<QString>("type");
  QTest::addColumn<QString>("hex");
  QTest::addColumn<QVector<double>>("values");
  const char* dir = std::getenv("DUO_REFERENCE_DIR");
  std::ifstream in(std::string(dir ? dir : "tests/reference") + "/gguf_refs.json");
  if (!in) QSKIP("tests/reference/gguf_refs.json not found (set DUO_REFERENCE_DIR)");
  const nlohmann::json refs = nlohmann::json::parse(in);
  for (const nlohmann::json& r : refs["quant_blocks"]) {
    const auto v = r["values"].get<std::vector<double>>();
    QTest::newRow(r["type"].get<std::string>().c_str())
        << QString::fromStdString(r["type"]) << QString::fromStdString(r["hex"]) << QVector<double>(v.begin(), v.end());
  }
}

// Random blocks (random nibbles, scales and bits) decoded by the gguf package: bit-exact.
void TestGgufDequant::matchesGgufPackage() {
  QFETCH(QString, type);
  QFETCH(QString, hex);
  QFETCH(QVector<double>, values);
  std::map<QString, GgmlType> types;  // every id we know, by name
  for (uint32_t id = 0; id < 64; ++id)
    if (duo::typeTraits(id).name != nullptr) types[duo::typeTraits(id).name] = GgmlType(id);
  QVERIFY2(types.count(type), qPrintable(type));
  QVERIFY2(duo::typeTraits(uint32_t(types.at(type))).dequantizable, qPrintable(type + " is not decoded"));
  const std::vector<uint8_t> bytes = fromHex(hex.toStdString());
  QCOMPARE(duo::ggmlByteSize(uint32_t(types.at(type)), values.size()), int64_t(bytes.size()));
  const std::vector<float> y = run(types.at(type), bytes, values.size());
  for (int i = 0; i < values.size(); ++i)
    if (double(y[size_t(i)]) != values[i])
      QFAIL(qPrintable(QString("%1 element %2: %3 vs gguf %4").arg(type).arg(i).arg(y[size_t(i)]).arg(values[i])));
}

void TestGgufDequant::unsupportedTypesNamed() {
  std::vector<uint8_t> b(292);
  std::vector<float> y(256);
  try {
    duo::dequantize(GgmlType::Q8_K, b.data(), y.data(), 256);  // gguf cannot dequantise it either
    QFAIL("Q8_K accepted");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("storage type Q8_K is not supported (supported: F32, F16, Q4_0"), e.what());
  }
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::dequantize(GgmlType::Q8_0, b.data(), y.data(), 31));
}

QTEST_GUILESS_MAIN(TestGgufDequant)
#include "test_gguf_dequant.moc"
