// SPDX-License-Identifier: GPL-3.0-or-later
// Enum <-> name tables: one row per value with the name it goes by in files and on command lines,
// read both ways and listed in error messages. Torch-free, header-only.
//   constexpr NamedValue<Score> kScores[] = {{Score::Full, "full"}, {Score::Marginal, "marginal"}};
//   nameOf(kScores, Score::Full) == "full";  valueOf(kScores, "marginal", &s) == true
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "kernels/base/error.h"

namespace duo {

template <class E>
struct NamedValue {
  E value;
  const char* name;
};

// The name of `v`; "?" for a value the table lacks.
template <class E, std::size_t N>
const char* nameOf(const NamedValue<E> (&table)[N], E v) {
  for (const auto& row : table)
    if (row.value == v) return row.name;
  return "?";
}

// The value named `name` into *out; false (and *out untouched) for a name the table lacks.
template <class E, std::size_t N>
bool valueOf(const NamedValue<E> (&table)[N], std::string_view name, E* out) {
  for (const auto& row : table) {
    if (name == row.name) {
      *out = row.value;
      return true;
    }
  }
  return false;
}

// Every name in table order, joined by `separator`: "Removed|Isolated|...".
template <class E, std::size_t N>
std::string namesOf(const NamedValue<E> (&table)[N], std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += separator;
    out += table[i].name;
  }
  return out;
}

// The value named `name`; throws duo::Error "<what>: expected a|b|c, got '<name>'" otherwise.
template <class E, std::size_t N>
E parseName(const NamedValue<E> (&table)[N], const std::string& name, const char* what) {
  E v{};
  if (!valueOf(table, name, &v)) fail(what, ": expected ", namesOf(table, "|"), ", got '", name, "'");
  return v;
}

}  // namespace duo
