// SPDX-License-Identifier: GPL-3.0-or-later
// A bare SentencePiece tokenizer.model read by our protobuf reader into the `llama` (score-ordered
// BPE, byte fallback) tokenizer. The yardstick is SentencePiece itself: tests/reference/
// make_spm_refs.py trained tests/data/tokenizers/spm-bpe.model with LLaMA-2's options and recorded
// what PyPI sentencepiece encodes and decodes; we must give exactly the same ids and text. Models our
// encoder does not implement, and damaged files, are refused with the file named.
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/common/error.h"
#include "core/model/model_loader.h"
#include "core/model/tokenizer/tokenizer.h"
#include "core/model/tokenizer/tokenizer_spm.h"

namespace fs = std::filesystem;

namespace {
std::string dataFile(const char* name) {
  return (fs::path(qEnvironmentVariable("DUO_TEST_DATA_DIR").toStdString()) / "tokenizers" / name).string();
}
nlohmann::json reference() {
  std::ifstream in(fs::path(qEnvironmentVariable("DUO_REFERENCE_DIR").toStdString()) / "tokenizer_spm_model.json");
  return nlohmann::json::parse(in);
}
std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

class TestTokenizerSpm : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void specMatchesSentencePiece() {
    const auto ref = reference();
    const duo::TokenizerSpec s = duo::spmTokenizerSpec(dataFile("spm-bpe.model"));
    QCOMPARE(static_cast<int64_t>(s.tokens.size()), ref["pieces"].get<int64_t>());
    QCOMPARE(s.unkId, ref["unk_id"].get<int64_t>());
    QCOMPARE(s.bosId, ref["bos_id"].get<int64_t>());
    QCOMPARE(s.eosId, ref["eos_id"].get<int64_t>());
    QCOMPARE(s.padId, ref["pad_id"].get<int64_t>());
    QCOMPARE(s.tokens[1], std::string("<s>"));
    QCOMPARE(s.tokenTypes[1], 3);  // control
    QCOMPARE(s.tokens[3], std::string("<0x00>"));
    QCOMPARE(s.tokenTypes[3], 6);  // byte
    QVERIFY(s.addSpacePrefix);
    // Control pieces in the text are special tokens, as transformers' LlamaTokenizer treats them
    // (SentencePiece alone would spell them out).
    const auto tok = duo::Tokenizer::fromSpec(s);
    QCOMPARE(tok->encode("<s>", false), std::vector<int32_t>{1});
  }

  void encodesLikeSentencePiece_data() {
    QTest::addColumn<int>("index");
    const auto ref = reference();
    for (size_t i = 0; i < ref["cases"].size(); ++i)
      QTest::newRow(ref["cases"][i]["name"].get<std::string>().c_str()) << static_cast<int>(i);
  }
  void encodesLikeSentencePiece() {
    QFETCH(int, index);
    const auto c = reference()["cases"][static_cast<size_t>(index)];
    const auto tok = duo::Tokenizer::fromSpec(duo::spmTokenizerSpec(dataFile("spm-bpe.model")));
    QCOMPARE(tok->kind(), std::string("spm"));
    const std::vector<int32_t> ids = tok->encode(c["text"].get<std::string>(), false);
    QCOMPARE(ids, c["ids"].get<std::vector<int32_t>>());
    QCOMPARE(tok->decode(ids), c["decoded"].get<std::string>());
    QCOMPARE(tok->encode(c["text"].get<std::string>(), true).front(), int32_t(1));  // <s> first
  }

  // An HF folder whose only tokenizer is tokenizer.model loads through the same reader.
  void hfFolderWithOnlyTokenizerModel() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const fs::path tiny = fs::path(qEnvironmentVariable("DUO_RESOURCES_DIR").toStdString()) / "models/duo-tiny-kjv";
    for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(tiny / f, dir / f);
    fs::copy_file(dataFile("spm-bpe.model"), dir / "tokenizer.model");
    const duo::LoadedModel m = duo::loadModel(dir.string(), torch::kCPU);
    QCOMPARE(m.tokenizer->kind(), std::string("spm"));
    QCOMPARE(fs::path(m.tokenizerJsonPath).filename().string(), std::string("tokenizer.model"));
    const auto c = reference()["cases"][0];
    QCOMPARE(m.tokenizer->encode(c["text"].get<std::string>(), false), c["ids"].get<std::vector<int32_t>>());
  }

  void refusesWhatItCannotEncode_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("message");
    QTest::newRow("unigram") << "spm-unigram.model" << "a SentencePiece Unigram model";
    QTest::newRow("whitespace collapsing") << "spm-collapse.model" << "collapsing runs of whitespace";
  }
  void refusesWhatItCannotEncode() {
    QFETCH(QString, file);
    QFETCH(QString, message);
    const std::string path = dataFile(file.toUtf8().constData());
    try {
      duo::spmTokenizerSpec(path);
      QFAIL("accepted");
    } catch (const duo::Error& e) {
      QVERIFY2(QString(e.what()).contains(message) && QString(e.what()).contains(QString::fromStdString(path)), e.what());
    }
  }

  // Every prefix of the real file, and junk, is refused with the name, never crashes.
  void damagedFilesAreRefused() {
    const std::string bytes = readBytes(dataFile("spm-bpe.model"));
    int refused = 0;
    for (size_t cut = 0; cut < bytes.size(); cut += 97) {
      try {
        duo::spmTokenizerSpecFromBytes(bytes.substr(0, cut), "cut.model");
      } catch (const duo::Error& e) {
        QVERIFY2(QString(e.what()).contains("cut.model"), e.what());
        ++refused;
      }
    }
    QVERIFY(refused > 0);
    QVERIFY_THROWS_EXCEPTION(duo::Error, duo::spmTokenizerSpecFromBytes("not a protobuf at all", "junk"));
    QVERIFY_THROWS_EXCEPTION(duo::Error, duo::spmTokenizerSpec("/nonexistent/tokenizer.model"));
  }
};

QTEST_GUILESS_MAIN(TestTokenizerSpm)
#include "test_tokenizer_spm.moc"
