// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/data/cloze_task.h"

#include <algorithm>
#include <map>
#include <random>
#include <sstream>

#include "core/common/error.h"

namespace duo {

namespace {
struct Line {
  std::string text;                // trimmed
  std::vector<std::string> words;  // split on whitespace
};

std::vector<Line> splitLines(const std::string& text) {
  std::vector<Line> lines;
  std::istringstream in(text);
  std::string raw;
  while (std::getline(in, raw)) {
    Line l;
    std::istringstream ws(raw);
    std::string w;
    while (ws >> w) l.words.push_back(w);
    if (l.words.empty()) continue;
    for (size_t i = 0; i < l.words.size(); ++i) l.text += (i ? " " : "") + l.words[i];
    lines.push_back(std::move(l));
  }
  return lines;
}

std::string joinWords(const std::vector<std::string>& w, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to; ++i) s += (i > from ? " " : "") + w[i];
  return s;
}

// Uniform index in [0, n) with explicit modulo (same sequence on every standard library).
size_t pick(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }
}  // namespace

McTask makeClozeTask(const CorpusText& corpus, const ClozeOptions& o) {
  DUO_CHECK(o.choices >= 2 && o.choices <= 16, "cloze task: --choices ", o.choices, " is outside [2, 16]");
  DUO_CHECK(o.items >= 1, "cloze task: --items ", o.items, " must be at least 1");
  DUO_CHECK(o.minWords >= 4 && o.maxEndingWords >= 2, "cloze task: minWords ", o.minWords, " / maxEndingWords ",
            o.maxEndingWords, " too small");
  const std::vector<Line> lines = splitLines(corpus.text);

  // Every usable line split into head + ending; endings grouped by their word count (length class).
  struct Cand {
    size_t line;
    std::string head, ending;  // ending starts with a space (lm-eval convention: " word word")
    size_t cls;                // words in the ending
  };
  std::vector<Cand> cands;
  std::map<size_t, std::vector<size_t>> byClass;  // class -> indices into cands
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& w = lines[i].words;
    if (static_cast<int>(w.size()) < o.minWords) continue;
    size_t cut = w.size() / 2;  // the ending: the second half, at most maxEndingWords words
    const size_t maxEnd = static_cast<size_t>(o.maxEndingWords);
    if (w.size() - cut > maxEnd) cut = w.size() - maxEnd;
    Cand c{i, joinWords(w, 0, cut), " " + joinWords(w, cut, w.size()), w.size() - cut};
    byClass[c.cls].push_back(cands.size());
    cands.push_back(std::move(c));
  }

  // Visit candidates in a seeded random order (Fisher-Yates); keep those whose class offers enough
  // distinct endings from other lines.
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order(cands.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[pick(rng, i)]);

  McTask task;
  task.name = "cloze-" + corpus.name;
  for (size_t idx : order) {
    if (static_cast<int>(task.items.size()) == o.items) break;
    const Cand& c = cands[idx];
    const auto& pool = byClass[c.cls];
    if (pool.size() < static_cast<size_t>(o.choices) * 2) continue;  // too rare a length: skip
    std::vector<std::string> distractors;
    for (int tries = 0; tries < 64 * o.choices && static_cast<int>(distractors.size()) < o.choices - 1; ++tries) {
      const Cand& d = cands[pool[pick(rng, pool.size())]];
      const bool near = d.line + 1 >= c.line && d.line <= c.line + 1;  // itself or a neighbour
      if (near || d.ending == c.ending ||
          std::find(distractors.begin(), distractors.end(), d.ending) != distractors.end())
        continue;
      distractors.push_back(d.ending);
    }
    if (static_cast<int>(distractors.size()) < o.choices - 1) continue;
    McItem item;
    item.context = (o.previousLine && c.line > 0 ? lines[c.line - 1].text + " " : std::string()) + c.head;
    item.gold = static_cast<int>(pick(rng, static_cast<size_t>(o.choices)));
    for (int k = 0, d = 0; k < o.choices; ++k)
      item.choices.push_back(k == item.gold ? c.ending : distractors[static_cast<size_t>(d++)]);
    task.items.push_back(std::move(item));
  }
  DUO_CHECK(static_cast<int>(task.items.size()) == o.items, "cloze task from '", corpus.name, "': only ",
            task.items.size(), " items could be made (", cands.size(), " lines of >= ", o.minWords,
            " words), ", o.items, " asked");
  return task;
}

}  // namespace duo
