// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF v2/v3 files: header, metadata key/values (all types, arrays included), tensor infos and
// the data section, with validation. Torch-free; parses from a memory buffer (the fuzz target
// calls parseGguf directly) and reads tensors from a memory map.
//
// Layout: "GGUF" u32 version, u64 tensor_count, u64 kv_count, kv_count x {string key, u32 type,
// value}, tensor_count x {string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset}, padding
// to general.alignment (default 32), data. Strings are u64 length + bytes (no terminator).
// ne[0] is the innermost (contiguous) dimension.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model/io/mapped_file.h"

namespace duo {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
const char* ggufTypeName(GgufType t);

// One metadata value. Scalars: integers in `i` (unsigned ones too; u64 beyond INT64_MAX is
// refused), floats in `f`, booleans in `b`, strings in `s`. Arrays: element type in `elemType`
// and the elements in `ints` / `floats` / `strings` (booleans as ints), or `items` for arrays of
// arrays.
struct GgufValue {
  GgufType type = GgufType::U8;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  GgufType elemType = GgufType::U8;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<GgufValue> items;

  bool isInteger() const;  // any integer scalar type
  bool isFloat() const { return type == GgufType::F32 || type == GgufType::F64; }
  size_t arraySize() const;
  std::string summary() const;  // short human form: 576, "llama", [49152 x STRING]
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] innermost
  uint32_t type = 0;        // GgmlType id (dequant.h)
  uint64_t offset = 0;      // relative to the data section, multiple of the alignment
  int64_t elements = 0;
  int64_t bytes = 0;
  // Row-major shape, outermost first (torch order): ne reversed.
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

struct GgufHeader {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t dataOffset = 0;  // absolute file offset of the data section
  std::vector<std::string> keys;  // metadata keys in file order
  std::map<std::string, GgufValue> kv;
  std::vector<GgufTensorInfo> tensors;  // in file order

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* tensor(const std::string& name) const;
};

// Limits that keep a hostile file from exhausting memory before validation fails.
inline constexpr uint64_t kGgufMaxTensors = 1u << 20;
inline constexpr uint64_t kGgufMaxKv = 1u << 20;
inline constexpr int kGgufMaxArrayDepth = 4;

// Parses and validates a whole GGUF file held in [data, data + size): magic, version 2 or 3,
// counts, every string and array inside the buffer, known value/tensor types, no duplicate keys
// or tensor names, 1..4 dimensions with no overflow, whole blocks per row, aligned offsets,
// byte ranges inside the data section and not overlapping. Throws duo::Error
// "<fileName>: <fault>". Never reads outside the buffer.
GgufHeader parseGguf(const uint8_t* data, size_t size, const std::string& fileName);

// Typed metadata look-ups that name the file and key on a type mismatch.
class GgufMeta {
 public:
  GgufMeta(const GgufHeader& h, const std::string& fileName) : m_h(h), m_file(fileName) {}
  bool has(const std::string& key) const { return m_h.find(key) != nullptr; }
  int64_t integer(const std::string& key) const;                  // required
  int64_t integer(const std::string& key, int64_t fallback) const;
  double number(const std::string& key, double fallback) const;   // integer or float
  std::string string(const std::string& key, const std::string& fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  const GgufValue* array(const std::string& key, GgufType elemType) const;  // nullptr when absent
  const std::string& file() const { return m_file; }

 private:
  const GgufValue& get(const std::string& key) const;
  const GgufHeader& m_h;
  std::string m_file;
};

// A mapped GGUF file with its validated header.
class GgufFile : public MappedModelFile<GgufHeader> {
 public:
  explicit GgufFile(const std::string& path);  // maps and validates; throws duo::Error
  GgufMeta meta() const { return GgufMeta(header(), path()); }

  // Dequantises tensor `t` into dst [t.elements] f32 (ggml element order). Throws duo::Error
  // naming the file and tensor for a storage type we cannot decode.
  void readF32(const GgufTensorInfo& t, float* dst) const;
  // The tensor's stored bytes [t.bytes] inside the map (for callers that convert in chunks).
  const uint8_t* tensorBytes(const GgufTensorInfo& t) const { return dataAt(t.offset); }
};

}  // namespace duo
