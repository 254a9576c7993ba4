// SPDX-License-Identifier: GPL-3.0-or-later
// Text sources (core/data/corpus): files as they are, JSONL "text" fields joined with "\n", and
// WikiText-2 in the SparseGPT/GPTQ convention (the dataset's rows joined with "\n\n", BOS first
// when the tokenizer adds one) from the raw file and from a JSONL export of the rows, which give
// the same text. Faults name the file.
#include <QTemporaryDir>
#include <QtTest>

#include "core/common/atomic_file.h"
#include "core/data/corpus.h"
#include "unit/expect_error.h"

using duo::test::expectError;

class TestCorpus : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void plainAndJsonl();
  void wikitext2();
  void faults();

 private:
  QTemporaryDir m_tmp;
  std::string write(const std::string& name, const std::string& text) { return duo::test::writeTemp(m_tmp, name, text); }
};

void TestCorpus::plainAndJsonl() {
  const std::string txt = write("a.txt", "line one\n\nline two\n");
  const duo::CorpusText t = duo::loadCorpus(txt);
  QCOMPARE(t.text, std::string("line one\n\nline two\n"));
  QVERIFY(!t.prependBos);
  const std::string jl = write("a.jsonl", "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"id\": 2}\n");
  QCOMPARE(duo::loadCorpus(jl).text, std::string("one\ntwo"));
}

// The start of wiki.test.raw's layout: a blank line (" "), a title, a blank line, a paragraph.
// The HF dataset's rows are "", " = Robert Boulter = \n", "", " Robert Boulter is ... \n".
void TestCorpus::wikitext2() {
  const std::string raw = write("wiki.test.raw", " \n = Robert Boulter = \n \n Robert Boulter is an English film actor . \n");
  const duo::CorpusText w = duo::loadCorpus("wikitext2:" + raw);
  // "" + "\n\n" + " = Robert Boulter = \n" + "\n\n" + "" + "\n\n" + " Robert ... \n"
  const std::string want = "\n\n = Robert Boulter = \n\n\n\n\n Robert Boulter is an English film actor . \n";
  QCOMPARE(w.text, want);
  QVERIFY(w.prependBos);
  QCOMPARE(w.path, raw);
  const std::string rows = write("wikitext-test.jsonl",
                                 "{\"text\": \"\"}\n{\"text\": \" = Robert Boulter = \\n\"}\n{\"text\": \"\"}\n"
                                 "{\"text\": \" Robert Boulter is an English film actor . \\n\"}\n");
  QCOMPARE(duo::loadCorpus("wikitext2:" + rows).text, want);
}

void TestCorpus::faults() {
  expectError([] { duo::loadCorpus("wikitext2:"); }, {"give the file after wikitext2:"});
  expectError([&] { duo::loadCorpus("wikitext2:" + m_tmp.filePath("none.raw").toStdString()); }, {"none.raw"});
  const std::string bad = write("bad.jsonl", "{\"text\": \"a\"}\n[1]\n");
  expectError([&] { duo::loadCorpus("wikitext2:" + bad); }, {bad + ":2", "expected an object with a string field \"text\""});
  expectError([] { duo::loadCorpus("kjv:test"); }, {"unknown split 'test'"});
}

QTEST_GUILESS_MAIN(TestCorpus)
#include "test_corpus.moc"
