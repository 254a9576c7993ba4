// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/common/error.h"
#include "core/model/io/dequant.h"

namespace duo {

namespace {

// Deepest JSON nesting a valid header has: {name: {shape: [..]}} = 3. We refuse anything much
// deeper before handing the text to the JSON parser.
constexpr int kMaxJsonDepth = 16;

struct DtypeRow {
  const char* name;
  int64_t bytes;
};
const DtypeRow kDtypes[] = {
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2},
    {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8},
};

// Maximum bracket nesting of JSON text, skipping string contents.
int jsonDepth(const char* p, size_t n) {
  int depth = 0, maxDepth = 0;
  bool inString = false;
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (inString) {
      if (c == '\\') ++i;
      else if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      maxDepth = std::max(maxDepth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return maxDepth;
}

uint64_t nonNegativeInt(const nlohmann::json& v, const std::string& fileName, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  fail(fileName, ": ", what, ": expected a non-negative integer, got ", v.dump());
}

}  // namespace

int64_t SafetensorsTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const SafetensorsTensor* SafetensorsHeader::find(const std::string& name) const {
  for (const SafetensorsTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

int64_t safetensorsDtypeBytes(const std::string& dtype) {
  for (const DtypeRow& r : kDtypes)
    if (dtype == r.name) return r.bytes;
  return -1;
}

SafetensorsHeader parseSafetensorsHeader(const uint8_t* data, size_t size, const std::string& fileName) {
  DUO_CHECK(size >= 8, fileName, ": not a safetensors file: ", size, " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, data, 8);  // little-endian on every platform we build for
  DUO_CHECK(n >= 2 && n <= kSafetensorsMaxHeaderBytes, fileName, ": header length ", n,
            " is outside the accepted range [2, ", kSafetensorsMaxHeaderBytes, "] bytes");
  DUO_CHECK(n <= size - 8, fileName, ": truncated: header claims ", n, " bytes but the file has ", size, " bytes");
  const char* text = reinterpret_cast<const char*>(data + 8);
  DUO_CHECK(text[0] == '{', fileName, ": header is not a JSON object (starts with byte ",
            static_cast<int>(static_cast<unsigned char>(text[0])), ")");
  DUO_CHECK(jsonDepth(text, n) <= kMaxJsonDepth, fileName, ": header JSON nests deeper than ", kMaxJsonDepth, " levels");

  // Parse, noting top-level keys as they come: nlohmann keeps only the last of duplicate keys.
  std::set<std::string> seen;
  std::string duplicate;
  auto onEvent = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if (ev == nlohmann::json::parse_event_t::key && depth == 1) {
      const std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, text + n, onEvent);
  } catch (const nlohmann::json::exception& e) {
    fail(fileName, ": header is not valid JSON: ", e.what());
  }
  DUO_CHECK(duplicate.empty(), fileName, ": tensor '", duplicate, "' appears twice in the header");
  DUO_CHECK(j.is_object(), fileName, ": header is not a JSON object");

  SafetensorsHeader h;
  h.dataOffset = 8 + n;
  const uint64_t dataBytes = size - h.dataOffset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      DUO_CHECK(v.is_object(), fileName, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        DUO_CHECK(m.value().is_string(), fileName, ": __metadata__ '", m.key(), "' is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string who = "tensor '" + name + "'";
    DUO_CHECK(v.is_object(), fileName, ": ", who, ": entry is not an object");
    DUO_CHECK(v.contains("dtype") && v["dtype"].is_string(), fileName, ": ", who, ": missing string 'dtype'");
    DUO_CHECK(v.contains("shape") && v["shape"].is_array(), fileName, ": ", who, ": missing array 'shape'");
    DUO_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() && v["data_offsets"].size() == 2,
              fileName, ": ", who, ": 'data_offsets' must be an array of two integers");
    SafetensorsTensor t;
    t.name = name;
    t.dtype = v["dtype"].get<std::string>();
    const int64_t elemBytes = safetensorsDtypeBytes(t.dtype);
    DUO_CHECK(elemBytes > 0, fileName, ": ", who, ": unknown dtype '", t.dtype, "'");
    DUO_CHECK(v["shape"].size() <= 8, fileName, ": ", who, ": ", v["shape"].size(), " dimensions (at most 8 accepted)");
    // Byte length = product(shape) * elemBytes, computed with overflow checks.
    uint64_t bytes = static_cast<uint64_t>(elemBytes);
    for (const nlohmann::json& d : v["shape"]) {
      const uint64_t dim = nonNegativeInt(d, fileName, who + " shape");
      DUO_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), fileName, ": ", who,
                ": dimension ", dim, " is too large");
      t.shape.push_back(static_cast<int64_t>(dim));
      DUO_CHECK(dim == 0 || bytes <= std::numeric_limits<uint64_t>::max() / 2 / dim, fileName, ": ", who,
                ": shape ", v["shape"].dump(), " overflows");
      bytes *= dim;
    }
    t.begin = nonNegativeInt(v["data_offsets"][0], fileName, who + " data_offsets");
    t.end = nonNegativeInt(v["data_offsets"][1], fileName, who + " data_offsets");
    DUO_CHECK(t.begin <= t.end, fileName, ": ", who, ": data_offsets [", t.begin, ", ", t.end, "] are reversed");
    DUO_CHECK(t.end <= dataBytes, fileName, ": ", who, ": data_offsets [", t.begin, ", ", t.end,
              "] lie outside the data section of ", dataBytes, " bytes (truncated file?)");
    DUO_CHECK(t.end - t.begin == bytes, fileName, ": ", who, ": shape ", v["shape"].dump(), " x ", t.dtype, " = ",
              bytes, " bytes, but data_offsets [", t.begin, ", ", t.end, "] span ", t.end - t.begin, " bytes");
    h.tensors.push_back(std::move(t));
  }

  std::sort(h.tensors.begin(), h.tensors.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const SafetensorsTensor* prev = nullptr;  // last non-empty range
  for (const SafetensorsTensor& t : h.tensors) {
    if (t.begin == t.end) continue;  // zero-sized tensors occupy no bytes
    if (prev != nullptr)
      DUO_CHECK(t.begin >= prev->end, fileName, ": tensors '", prev->name, "' [", prev->begin, ", ", prev->end,
                ") and '", t.name, "' [", t.begin, ", ", t.end, ") overlap");
    prev = &t;
  }
  return h;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : MappedModelFile(path, parseSafetensorsHeader) {}

void SafetensorsFile::readF32(const SafetensorsTensor& t, float* dst) const {
  const uint8_t* src = tensorBytes(t);
  const int64_t n = t.elements();
  if (t.dtype == "F32") {
    if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else if (t.dtype == "F16") {
    dequantize(GgmlType::F16, src, dst, n);
  } else if (t.dtype == "BF16") {
    dequantize(GgmlType::BF16, src, dst, n);
  } else {
    fail(path(), ": tensor '", t.name, "': dtype ", t.dtype, " is not supported (F32, F16, BF16 are)");
  }
}

}  // namespace duo
