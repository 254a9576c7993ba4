// SPDX-License-Identifier: GPL-3.0-or-later
// UTF-8 helpers and the GPT-2 byte <-> unicode table used by byte-level BPE. Internal to
// duo_tokenizer.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace duo::tok {

// Length in bytes of the UTF-8 character starting at s[i]: 1..4 for a well-formed sequence,
// 1 for any invalid or truncated byte (so that arbitrary bytes still make progress).
size_t utf8CharLen(std::string_view s, size_t i);

// Appends the UTF-8 encoding of code point cp (< 0x110000) to out.
void appendUtf8(std::string& out, uint32_t cp);

// GPT-2's reversible byte -> printable unicode map: bytes that are printable Latin-1 map to
// themselves, the other 68 map to U+0100 upwards in byte order (so ' ' -> 'Ġ' U+0120).
struct ByteUnicodeTable {
  std::array<std::string, 256> byteToText;   // [256] UTF-8 of the mapped code point
  std::array<int16_t, 512> codepointToByte;  // [512] code point -> byte, -1 when not a mapped code point
};
const ByteUnicodeTable& byteUnicodeTable();

// The GPT-2 mapped form of raw bytes ("a b" -> "aĠb").
std::string bytesToByteLevel(std::string_view raw);

// Reverses bytesToByteLevel; characters outside the table are copied unchanged.
std::string byteLevelToBytes(std::string_view mapped);

// "<0x0A>" style name of a byte token (SentencePiece byte fallback), and its parse (-1 if not one).
std::string byteTokenName(uint8_t b);
int byteTokenValue(std::string_view token);

}  // namespace duo::tok
