// SPDX-License-Identifier: GPL-3.0-or-later
// lm-eval-harness' multiple-choice datasets read as JSONL (core/data/lm_eval_tasks): one
// hand-written row of each layout becomes the context, choices and gold lm-eval's task config
// builds for it (0-shot; the expected strings are written out from those configs by hand);
// the layout is detected from the keys, ambiguity and unlabelled (test split) rows are refused
// naming FILE:LINE. WinoGrande's partial scoring keeps one context per option.
#include <QTemporaryDir>
#include <QtTest>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/data/lm_eval_tasks.h"
#include "core/data/mc_task.h"

#include "unit/expect_error.h"

namespace {
using duo::test::expectError;
}  // namespace

class TestLmEvalTasks : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void layouts_data();
  void layouts();
  void hellaswagPreprocess();
  void faults();

 private:
  QTemporaryDir m_tmp;
  std::string write(const std::string& name, const std::string& text) { return duo::test::writeTemp(m_tmp, name, text); }
};

void TestLmEvalTasks::layouts_data() {
  QTest::addColumn<QString>("row");
  QTest::addColumn<QString>("format");
  QTest::addColumn<QString>("context");
  QTest::addColumn<QStringList>("choices");
  QTest::addColumn<int>("gold");
  QTest::addColumn<QStringList>("contexts");
  QTest::newRow("hellaswag (HF, string label)")
      << R"({"ind": 4, "activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles.", "ctx_b": "then", "ctx": "...", "endings": [", the man adds wax to the windshield and cuts it.", ", a person board a ski lift, while two men supporting the head of the person wearing winter clothes snow as the we girls sled.", ", the man puts on a christmas coat, knitted with netting.", ", the man continues removing the snow on his car."], "source_id": "activitynet~v_-1IBHYS3L-Y", "split": "train", "split_type": "indomain", "label": "3"})"
      << "hellaswag"
      << "Removing ice from car: Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles. Then"
      << QStringList{" , the man adds wax to the windshield and cuts it.",
                     " , a person board a ski lift, while two men supporting the head of the person wearing winter clothes snow as the we girls sled.",
                     " , the man puts on a christmas coat, knitted with netting.", " , the man continues removing the snow on his car."}
      << 3 << QStringList{};
  QTest::newRow("hellaswag (wikihow brackets, int label)")
      << R"({"activity_label": "Home and Garden", "ctx_a": "[header] How to grow basil [title] Pick a sunny spot.", "ctx_b": "PLANT it in MAY", "endings": ["[step] Water it daily.", "Forget it  for weeks."], "label": 0})"
      << "hellaswag" << "Home and Garden: How to grow basil. Pick a sunny spot. Plant it in may"
      // "[step] Water..." loses its bracket after the strip, so lm-eval's choice keeps two spaces.
      << QStringList{"  Water it daily.", " Forget it for weeks."} << 0 << QStringList{};
  QTest::newRow("piqa")
      << R"({"goal": "How do I ready a guinea pig cage for it's new occupants?", "sol1": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will also need to supply it with a water bottle and a food dish.", "sol2": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, you will also need to supply it with a water bottle and a food dish.", "label": 0})"
      << "piqa" << "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"
      << QStringList{" Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will also need to supply it with a water bottle and a food dish.",
                     " Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, you will also need to supply it with a water bottle and a food dish."}
      << 0 << QStringList{};
  QTest::newRow("arc (ai2_arc)")
      << R"({"id": "Mercury_7175875", "question": "An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?", "choices": {"text": ["Planetary density will decrease.", "Planetary years will become longer.", "Planetary days will become shorter.", "Planetary gravity will become stronger."], "label": ["A", "B", "C", "D"]}, "answerKey": "C"})"
      << "arc"
      << "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:"
      << QStringList{" Planetary density will decrease.", " Planetary years will become longer.",
                     " Planetary days will become shorter.", " Planetary gravity will become stronger."}
      << 2 << QStringList{};
  QTest::newRow("arc (original layout, numeric labels)")
      << R"({"id": "NYSEDREGENTS_2015_4_8", "question": {"stem": "Which is a renewable resource?", "choices": [{"text": "coal", "label": "1"}, {"text": "oil", "label": "2"}, {"text": "wind", "label": "3"}]}, "answerKey": "3"})"
      << "arc" << "Question: Which is a renewable resource?\nAnswer:" << QStringList{" coal", " oil", " wind"} << 2
      << QStringList{};
  QTest::newRow("winogrande")
      << R"({"sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.", "option1": "Sarah", "option2": "Maria", "answer": "1"})"
      << "winogrande" << "Sarah was a much better surgeon than Maria so Sarah"
      << QStringList{" always got the harder cases.", " always got the harder cases."} << 0
      << QStringList{"Sarah was a much better surgeon than Maria so Sarah", "Sarah was a much better surgeon than Maria so Maria"};
  QTest::newRow("boolq (super_glue)")
      << R"({"question": "is windows movie maker part of windows essentials", "passage": "Windows Movie Maker -- Windows Movie Maker is a discontinued video editing software by Microsoft.", "idx": 0, "label": 1})"
      << "boolq"
      << "Windows Movie Maker -- Windows Movie Maker is a discontinued video editing software by Microsoft.\nQuestion: is windows movie maker part of windows essentials?\nAnswer:"
      << QStringList{" no", " yes"} << 1 << QStringList{};
  QTest::newRow("boolq (google jsonl)")
      << R"({"question": "do iran and afghanistan speak the same language", "title": "Persian language", "answer": true, "passage": "Persian is spoken in Iran and Afghanistan."})"
      << "boolq" << "Persian is spoken in Iran and Afghanistan.\nQuestion: do iran and afghanistan speak the same language?\nAnswer:"
      << QStringList{" no", " yes"} << 1 << QStringList{};
  QTest::newRow("duoscope")
      << R"({"context": "In the beginning God", "choices": [" created", " saw"], "gold": 0, "id": 7})" << "duoscope"
      << "In the beginning God" << QStringList{" created", " saw"} << 0 << QStringList{};
}

void TestLmEvalTasks::layouts() {
  QFETCH(QString, row);
  QFETCH(QString, format);
  QFETCH(QString, context);
  QFETCH(QStringList, choices);
  QFETCH(int, gold);
  QFETCH(QStringList, contexts);
  const std::string path = write(format.toStdString() + ".jsonl", row.toStdString() + "\n\n" + row.toStdString() + "\n");
  for (const std::string f : {std::string("auto"), format.toStdString()}) {
    const duo::McTask t = duo::loadMcTask(path, f);
    QCOMPARE(QString::fromStdString(t.format), format);
    QCOMPARE(t.items.size(), size_t(2));
    const duo::McItem& item = t.items[0];
    QCOMPARE(QString::fromStdString(item.context), context);
    QStringList got;
    for (const auto& c : item.choices) got << QString::fromStdString(c);
    QCOMPARE(got, choices);
    QCOMPARE(item.gold, gold);
    QStringList ctxs;
    for (const auto& c : item.contexts) ctxs << QString::fromStdString(c);
    QCOMPARE(ctxs, contexts);
    for (int c = 0; c < choices.size(); ++c)
      QCOMPARE(QString::fromStdString(item.contextOf(size_t(c))), contexts.isEmpty() ? context : contexts[c]);
  }
  // Written back in our layout (contexts kept), it reads back the same.
  const duo::McTask t = duo::loadMcTask(path);
  const std::string ours = write("ours.jsonl", duo::mcTaskJsonl(t));
  const duo::McTask back = duo::loadMcTask(ours);
  QCOMPARE(back.format, std::string("duoscope"));
  QCOMPARE(back.items[0].contexts, t.items[0].contexts);
  QCOMPARE(back.items[0].choices, t.items[0].choices);
  QCOMPARE(back.items[0].context, t.items[0].context);
}

void TestLmEvalTasks::hellaswagPreprocess() {
  QCOMPARE(duo::hellaswagPreprocess("  [header] How to x [title] Do y.  "), std::string(" How to x. Do y."));
  QCOMPARE(duo::hellaswagPreprocess("a [b\nc] d"), std::string("a [b\nc] d"));  // "." does not cross lines
  QCOMPARE(duo::hellaswagPreprocess("a   b"), std::string("a  b"));  // one pass, as str.replace
  QCOMPARE(duo::hellaswagPreprocess("x [unclosed"), std::string("x [unclosed"));
}

void TestLmEvalTasks::faults() {
  const std::string ambiguous =
      write("both.jsonl", R"({"question": "q", "passage": "p", "answerKey": "A", "label": 1})" "\n");
  expectError([&] { duo::loadMcTask(ambiguous); }, {ambiguous + ":1", "fit both arc and boolq", "--task-format"});
  QCOMPARE(duo::loadMcTask(ambiguous, "boolq").items[0].gold, 1);
  const std::string unknown = write("unknown.jsonl", R"({"premise": "p", "hypothesis": "h"})" "\n");
  expectError([&] { duo::loadMcTask(unknown); }, {unknown + ":1", "the keys {hypothesis, premise} fit no task layout"});
  const std::string test = write("wino-test.jsonl",
                                 R"({"sentence": "A _ b.", "option1": "x", "option2": "y", "answer": "1"})" "\n"
                                 R"({"sentence": "A _ b.", "option1": "x", "option2": "y", "answer": ""})" "\n");
  expectError([&] { duo::loadMcTask(test); }, {test + ":2", "\"answer\" is empty (a test split without labels"});
  const std::string noBlank = write("wino-blank.jsonl", R"({"sentence": "A b.", "option1": "x", "option2": "y", "answer": "2"})" "\n");
  expectError([&] { duo::loadMcTask(noBlank); }, {noBlank + ":1", "\"sentence\" has no \"_\" blank"});
  const std::string badKey = write("arc-key.jsonl",
                                   R"({"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "E"})" "\n");
  expectError([&] { duo::loadMcTask(badKey); }, {badKey + ":1", "answerKey \"E\" is not one of the choices' labels"});
  const std::string piqaBad = write("piqa.jsonl", R"({"goal": "g", "sol1": "a", "sol2": "b", "label": 2})" "\n");
  expectError([&] { duo::loadMcTask(piqaBad); }, {piqaBad + ":1", "label 2 is not a choice index in [0, 2)"});
  expectError([&] { duo::loadMcTask(piqaBad, "mmlu"); }, {"--task-format 'mmlu' is not one of auto, duoscope"});
  // The layout is fixed by the first row: a later row of another layout is refused.
  const std::string mixed = write("mixed.jsonl", R"({"goal": "g", "sol1": "a", "sol2": "b", "label": 1})" "\n"
                                                 R"({"context": "c", "choices": ["a", "b"], "gold": 0})" "\n");
  expectError([&] { duo::loadMcTask(mixed); }, {mixed + ":2", "missing string field \"goal\""});
}

QTEST_GUILESS_MAIN(TestLmEvalTasks)
#include "test_lm_eval_tasks.moc"
