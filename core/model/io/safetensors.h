// SPDX-License-Identifier: GPL-3.0-or-later
// safetensors files: header parsing with validation, and a memory-mapped reader that converts
// F32/F16/BF16 tensors to float32. Torch-free (the writer, which takes torch tensors, is in
// safetensors_writer.h).
//
// Layout: u64 little-endian N, then N bytes of JSON {name: {dtype, shape, data_offsets:[b, e]},
// "__metadata__": {str: str}}, then the data section; offsets are relative to its start (8 + N).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/model/io/mapped_file.h"

namespace duo {

// Largest JSON header we accept (the reference implementation's limit too).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100ull << 20;

struct SafetensorsTensor {
  std::string name;
  std::string dtype;           // as stored: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // row-major, outermost first
  uint64_t begin = 0, end = 0; // byte range relative to the data section
  int64_t elements() const;
};

struct SafetensorsHeader {
  uint64_t dataOffset = 0;                      // 8 + N: where the data section starts in the file
  std::vector<SafetensorsTensor> tensors;       // sorted by begin
  std::map<std::string, std::string> metadata;  // "__metadata__"
  const SafetensorsTensor* find(const std::string& name) const;  // nullptr when absent
};

// Bytes per element of a safetensors dtype; -1 for a dtype we do not know.
int64_t safetensorsDtypeBytes(const std::string& dtype);

// Parses and validates the header of a safetensors file held in [data, data + size): header size
// within limits and inside the buffer, valid JSON of the expected shape, known dtypes, no
// duplicate names, shape x dtype == byte length, every range inside the data section, no two
// ranges overlapping. Throws duo::Error "<fileName>: <fault>". Never reads outside the buffer.
SafetensorsHeader parseSafetensorsHeader(const uint8_t* data, size_t size, const std::string& fileName);

// One mapped safetensors file with its validated header.
class SafetensorsFile : public MappedModelFile<SafetensorsHeader> {
 public:
  explicit SafetensorsFile(const std::string& path);  // maps and validates; throws duo::Error

  // Converts tensor `t` (F32, F16 or BF16) into dst [t.elements()] f32. Throws duo::Error naming
  // the file and the tensor for other dtypes.
  void readF32(const SafetensorsTensor& t, float* dst) const;
  // The tensor's stored bytes [t.end - t.begin] inside the map.
  const uint8_t* tensorBytes(const SafetensorsTensor& t) const { return dataAt(t.begin); }
};

}  // namespace duo
