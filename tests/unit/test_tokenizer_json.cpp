// SPDX-License-Identifier: GPL-3.0-or-later
// tokenizer.json parsing: every fault is a duo::Error that names the file and the fault, and no
// input crashes (truncations and byte flips of a real file, deep nesting).
#include <QtTest>
#include <random>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/tokenizer/tokenizer.h"

namespace {

std::string dataDir() {
  const char* v = std::getenv("DUO_TEST_DATA_DIR");
  return std::string(v ? v : "") + "/tokenizers";
}

// A minimal valid BPE document with the given model, pre_tokenizer and extra top-level members.
std::string doc(const std::string& model, const std::string& extra = "") {
  return "{\"model\": " + model + (extra.empty() ? "" : ", " + extra) + "}";
}
const char* const kModel = R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";

}  // namespace

class TestTokenizerJson : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void minimalDocumentWorks();
  void faultsAreNamed_data();
  void faultsAreNamed();
  void missingFileIsNamed();
  void mutatedFilesNeverCrash_data();
  void mutatedFilesNeverCrash();
  void deepNesting();
  void writerRoundTrips_data();
  void writerRoundTrips();
};

void TestTokenizerJson::minimalDocumentWorks() {
  auto tok = duo::Tokenizer::fromJsonString(doc(kModel), "mini.json");
  QCOMPARE(tok->encode("abba", false), (std::vector<int32_t>{2, 1, 0}));  // "ab" "b" "a"
  QCOMPARE(tok->vocabSize(), int64_t(3));
  // Merges as ["left", "right"] pairs (tokenizers >= 0.20) read the same.
  auto pairs = duo::Tokenizer::fromJsonString(
      doc(R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]})"), "pairs.json");
  QCOMPARE(pairs->encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
}

void TestTokenizerJson::faultsAreNamed_data() {
  QTest::addColumn<QString>("json");
  QTest::addColumn<QString>("expected");
  QTest::newRow("not json") << "{\"model\": " << "not valid JSON";
  QTest::newRow("top-level array") << "[]" << "top level: expected an object";
  QTest::newRow("no model") << "{}" << "missing 'model'";
  QTest::newRow("unigram") << QString::fromStdString(doc(R"({"type": "Unigram", "vocab": []})"))
                           << "model type 'Unigram' is not supported (only BPE)";
  QTest::newRow("wordpiece") << QString::fromStdString(doc(R"({"type": "WordPiece", "vocab": {}})"))
                             << "model type 'WordPiece' is not supported";
  QTest::newRow("missing merges") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 0}})")) << "missing 'merges'";
  QTest::newRow("missing vocab") << QString::fromStdString(doc(R"({"type": "BPE", "merges": []})")) << "missing 'vocab'";
  QTest::newRow("vocab array") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": [], "merges": []})"))
                               << "model.vocab: expected an object";
  QTest::newRow("merge side unknown") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]})"))
                                      << "model.merges[0]: 'c' is not in the vocabulary";
  QTest::newRow("merged unknown") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]})"))
                                  << "the merged token 'ab' is not in the vocabulary";
  QTest::newRow("merge shape") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [3]})"))
                               << "model.merges[0]: expected";
  QTest::newRow("negative id") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": -1}, "merges": []})")) << "outside";
  QTest::newRow("huge id") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 9000000}, "merges": []})"))
                           << "far beyond";
  QTest::newRow("id string") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": "0"}, "merges": []})"))
                             << "expected an integer id";
  QTest::newRow("duplicate id") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []})"))
                                << "is also used by";
  QTest::newRow("unk missing") << QString::fromStdString(doc(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"})"))
                               << "model.unk_token: '<unk>' is not in the vocabulary";
  QTest::newRow("pre unknown") << QString::fromStdString(doc(kModel, R"("pre_tokenizer": {"type": "Whitespace"})"))
                               << "pre-tokenizer type 'Whitespace' is not supported";
  QTest::newRow("bad regex") << QString::fromStdString(doc(kModel, R"("pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"})"))
                             << "regex '(('";
  QTest::newRow("bad behavior") << QString::fromStdString(doc(kModel, R"("pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"})"))
                                << "got 'Sideways'";
  QTest::newRow("normalizer unknown") << QString::fromStdString(doc(kModel, R"("normalizer": {"type": "Lowercase"})"))
                                      << "normalizer type 'Lowercase' is not supported";
  QTest::newRow("decoder unknown") << QString::fromStdString(doc(kModel, R"("decoder": {"type": "WordPiece"})"))
                                   << "decoder type 'WordPiece' is not supported";
  QTest::newRow("post unknown") << QString::fromStdString(doc(kModel, R"("post_processor": {"type": "BertProcessing"})"))
                                << "post-processor type 'BertProcessing' is not supported";
  QTest::newRow("template bos missing")
      << QString::fromStdString(doc(kModel, R"("post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "special_tokens": {}})"))
      << "missing '<s>'";
  QTest::newRow("added no content") << QString::fromStdString(doc(kModel, R"("added_tokens": [{"id": 3}])"))
                                    << "added_tokens[0]: missing 'content'";
  QTest::newRow("type not string") << QString::fromStdString(doc(kModel, R"("pre_tokenizer": {"type": 5})"))
                                   << "pre_tokenizer.type: expected a string";
  QTest::newRow("nested too deep")
      << QString::fromStdString(doc(kModel, "\"pre_tokenizer\": " + [] {
           std::string s = R"({"type": "Digits"})";
           for (int i = 0; i < 40; ++i) s = R"({"type": "Sequence", "pretokenizers": [)" + s + "]}";
           return s;
         }()))
      << "nested too deeply";
}

void TestTokenizerJson::faultsAreNamed() {
  QFETCH(QString, json);
  QFETCH(QString, expected);
  try {
    duo::Tokenizer::fromJsonString(json.toStdString(), "bad/tokenizer.json");
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    const QString msg = e.what();
    QVERIFY2(msg.startsWith("bad/tokenizer.json: "), e.what());
    QVERIFY2(msg.contains(expected), e.what());
  }
}

void TestTokenizerJson::missingFileIsNamed() {
  try {
    duo::Tokenizer::fromJsonFile("/nonexistent/dir/tokenizer.json");
    QFAIL("no exception");
  } catch (const duo::Error& e) {
    QVERIFY2(QString(e.what()).contains("/nonexistent/dir/tokenizer.json"), e.what());
  }
}

void TestTokenizerJson::mutatedFilesNeverCrash_data() {
  QTest::addColumn<QString>("file");
  QTest::newRow("duo") << "duo-bytelevel-512.json";
  QTest::newRow("spm") << "spm-llama2-style.json";
}

// A poor man's fuzzer (the libFuzzer target runs far longer): 400 truncations and byte flips of a
// real file must each load or throw duo::Error; what loads must encode and decode.
void TestTokenizerJson::mutatedFilesNeverCrash() {
  QFETCH(QString, file);
  const std::string original = duo::readFile(dataDir() + "/" + file.toStdString());
  std::mt19937 rng(1234);
  int loaded = 0, refused = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string m = original;
    if (iter % 2 == 0) {
      m.resize(std::uniform_int_distribution<size_t>(0, m.size() - 1)(rng));
    } else {
      const int flips = 1 + iter % 5;
      for (int k = 0; k < flips; ++k) {
        m[std::uniform_int_distribution<size_t>(0, m.size() - 1)(rng)] = static_cast<char>(rng() & 0xFF);
      }
    }
    try {
      auto tok = duo::Tokenizer::fromJsonString(m, "mutant.json");
      const auto ids = tok->encode("In the beginning, 12 caf\xC3\xA9s <s> \xF0\x9F\x98\x80!", true);
      tok->decode(ids);
      ++loaded;
    } catch (const duo::Error&) {
      ++refused;
    }
  }
  qInfo("%s: %d mutants loaded, %d refused with duo::Error", qPrintable(file), loaded, refused);
  QCOMPARE(loaded + refused, 400);
}

void TestTokenizerJson::deepNesting() {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  QVERIFY_THROWS_EXCEPTION(duo::Error, duo::Tokenizer::fromJsonString(deep, "deep.json"));
  const std::string deepObj = doc(kModel, "\"x\": " + std::string(50000, '[') + std::string(50000, ']'));
  QVERIFY(duo::Tokenizer::fromJsonString(deepObj, "deep2.json") != nullptr);  // unknown members are ignored
}

void TestTokenizerJson::writerRoundTrips_data() {
  QTest::addColumn<QString>("file");
  QTest::newRow("duo") << "duo-bytelevel-512.json";
  QTest::newRow("spm") << "spm-llama2-style.json";
}

// Our writer's output reads back to a tokenizer that encodes the sample text identically.
void TestTokenizerJson::writerRoundTrips() {
  QFETCH(QString, file);
  auto a = duo::Tokenizer::fromJsonFile(dataDir() + "/" + file.toStdString());
  auto b = duo::Tokenizer::fromJsonString(a->toJsonString(), "written.json");
  const std::string text = duo::readFile(dataDir() + "/kjv-sample.txt") + " <s>x</s> 12345 caf\xC3\xA9 \xE6\x9D\xB1";
  QVERIFY(a->encode(text, true) == b->encode(text, true));
  QCOMPARE(a->addsBos(), b->addsBos());
  QCOMPARE(a->bosId(), b->bosId());
  QCOMPARE(a->vocabSize(), b->vocabSize());
  QCOMPARE(a->kind(), b->kind());
}

QTEST_GUILESS_MAIN(TestTokenizerJson)
#include "test_tokenizer_json.moc"
