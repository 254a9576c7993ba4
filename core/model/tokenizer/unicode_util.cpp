// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/tokenizer/unicode_util.h"

#include <cstdio>

namespace duo::tok {

size_t utf8CharLen(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t n = 0;
  uint32_t minCp = 0;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    minCp = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    minCp = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    minCp = 0x10000;
  } else {
    return 1;  // stray continuation byte or 0xF8..0xFF
  }
  if (i + n > s.size()) return 1;
  uint32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 1;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not characters.
  if (cp < minCp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 1;
  return n;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {
ByteUnicodeTable buildTable() {
  ByteUnicodeTable t;
  t.codepointToByte.fill(-1);
  // Printable ranges keep their own code point: '!'..'~', '¡'..'¬', '®'..'ÿ'.
  auto printable = [](int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  uint32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = printable(b) ? static_cast<uint32_t>(b) : next++;
    appendUtf8(t.byteToText[b], cp);
    t.codepointToByte[cp] = static_cast<int16_t>(b);
  }
  return t;
}
}  // namespace

const ByteUnicodeTable& byteUnicodeTable() {
  static const ByteUnicodeTable table = buildTable();
  return table;
}

std::string bytesToByteLevel(std::string_view raw) {
  const auto& t = byteUnicodeTable();
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += t.byteToText[static_cast<uint8_t>(c)];
  return out;
}

std::string byteLevelToBytes(std::string_view mapped) {
  const auto& t = byteUnicodeTable();
  std::string out;
  out.reserve(mapped.size());
  for (size_t i = 0; i < mapped.size();) {
    const size_t n = utf8CharLen(mapped, i);
    uint32_t cp = 0x7FFFFFFF;
    if (n == 1) {
      cp = static_cast<uint8_t>(mapped[i]);
      if (cp >= 0x80) cp = 0x7FFFFFFF;  // invalid byte: not a table entry
    } else if (n == 2) {
      cp = ((static_cast<uint8_t>(mapped[i]) & 0x1F) << 6) | (static_cast<uint8_t>(mapped[i + 1]) & 0x3F);
    }
    if (cp < t.codepointToByte.size() && t.codepointToByte[cp] >= 0) {
      out += static_cast<char>(t.codepointToByte[cp]);
    } else {
      out.append(mapped.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string byteTokenName(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

int byteTokenValue(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = token[i];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace duo::tok
