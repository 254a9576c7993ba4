// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>

#include "core/common/error.h"
#include "core/model/io/dequant.h"

namespace duo {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS

// Bounds-checked little-endian reader over the file buffer; every fault names the file, what was
// being read and where.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& file) : m_data(data), m_size(size), m_file(file) {}

  size_t pos() const { return m_pos; }
  size_t remaining() const { return m_size - m_pos; }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, m_data + m_pos, sizeof(T));
    m_pos += sizeof(T);
    return v;
  }

  std::string string(const char* what) {
    const uint64_t n = read<uint64_t>(what);
    DUO_CHECK(n <= remaining(), m_file, ": truncated: ", what, " at byte ", m_pos - 8, " claims ", n,
              " bytes, only ", remaining(), " remain");
    std::string s(reinterpret_cast<const char*>(m_data + m_pos), static_cast<size_t>(n));
    m_pos += static_cast<size_t>(n);
    return s;
  }

  void need(size_t n, const char* what) const {
    DUO_CHECK(n <= remaining(), m_file, ": truncated: reading ", what, " at byte ", m_pos, " needs ", n,
              " bytes, only ", remaining(), " remain");
  }

  const std::string& file() const { return m_file; }

 private:
  const uint8_t* m_data;
  size_t m_size;
  size_t m_pos = 0;
  const std::string& m_file;
};

// Smallest encoding of one element of each type: bounds an array count before we allocate.
size_t minBytes(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: case GgufType::String: return 8;
    case GgufType::Array: return 12;
  }
  return 1;
}

bool knownType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

// Reads one scalar of type t into v's scalar fields.
void readScalar(Cursor& c, GgufType t, const std::string& key, GgufValue* v) {
  const std::string what = "value of '" + key + "'";
  switch (t) {
    case GgufType::U8: v->i = c.read<uint8_t>(what.c_str()); break;
    case GgufType::I8: v->i = c.read<int8_t>(what.c_str()); break;
    case GgufType::U16: v->i = c.read<uint16_t>(what.c_str()); break;
    case GgufType::I16: v->i = c.read<int16_t>(what.c_str()); break;
    case GgufType::U32: v->i = c.read<uint32_t>(what.c_str()); break;
    case GgufType::I32: v->i = c.read<int32_t>(what.c_str()); break;
    case GgufType::I64: v->i = c.read<int64_t>(what.c_str()); break;
    case GgufType::U64: {
      const uint64_t u = c.read<uint64_t>(what.c_str());
      DUO_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), c.file(), ": '", key,
                "': u64 value ", u, " is too large");
      v->i = static_cast<int64_t>(u);
      break;
    }
    case GgufType::F32: v->f = c.read<float>(what.c_str()); break;
    case GgufType::F64: v->f = c.read<double>(what.c_str()); break;
    case GgufType::Bool: {
      const uint8_t b = c.read<uint8_t>(what.c_str());
      DUO_CHECK(b <= 1, c.file(), ": '", key, "': boolean byte ", static_cast<int>(b), " is neither 0 nor 1");
      v->b = b != 0;
      v->i = b;
      break;
    }
    case GgufType::String: v->s = c.string(what.c_str()); break;
    case GgufType::Array: DUO_ASSERT(false); break;  // handled by readValue
  }
}

void readValue(Cursor& c, GgufType t, const std::string& key, int depth, GgufValue* v) {
  v->type = t;
  if (t != GgufType::Array) {
    readScalar(c, t, key, v);
    return;
  }
  DUO_CHECK(depth < kGgufMaxArrayDepth, c.file(), ": '", key, "': arrays nest deeper than ", kGgufMaxArrayDepth);
  const uint32_t et = c.read<uint32_t>("array element type");
  DUO_CHECK(knownType(et), c.file(), ": '", key, "': unknown array element type ", et);
  v->elemType = static_cast<GgufType>(et);
  const uint64_t n = c.read<uint64_t>("array length");
  DUO_CHECK(n <= c.remaining() / minBytes(v->elemType), c.file(), ": truncated: '", key, "' claims ", n, " ",
            ggufTypeName(v->elemType), " elements, only ", c.remaining(), " bytes remain");
  const size_t count = static_cast<size_t>(n);
  GgufValue e;
  switch (v->elemType) {
    case GgufType::String:
      v->strings.reserve(count);
      for (size_t k = 0; k < count; ++k) v->strings.push_back(c.string("array string"));
      break;
    case GgufType::F32:
    case GgufType::F64:
      v->floats.reserve(count);
      for (size_t k = 0; k < count; ++k) {
        readScalar(c, v->elemType, key, &e);
        v->floats.push_back(e.f);
      }
      break;
    case GgufType::Array:
      // Each nested value is a large struct: bound the count harder than the byte check does.
      DUO_CHECK(count <= (1u << 16), c.file(), ": '", key, "': ", count, " nested arrays exceed the limit 65536");
      v->items.reserve(count);
      for (size_t k = 0; k < count; ++k) {
        v->items.emplace_back();
        readValue(c, GgufType::Array, key, depth + 1, &v->items.back());
      }
      break;
    default:  // integers and booleans
      v->ints.reserve(count);
      for (size_t k = 0; k < count; ++k) {
        readScalar(c, v->elemType, key, &e);
        v->ints.push_back(e.i);
      }
      break;
  }
}

}  // namespace

const char* ggufTypeName(GgufType t) {
  static const char* kNames[] = {"U8", "I8", "U16", "I16", "U32", "I32", "F32", "BOOL", "STRING", "ARRAY", "U64", "I64", "F64"};
  const auto i = static_cast<uint32_t>(t);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "?";
}

bool GgufValue::isInteger() const {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

size_t GgufValue::arraySize() const { return ints.size() + floats.size() + strings.size() + items.size(); }

std::string GgufValue::summary() const {
  std::ostringstream os;
  if (type == GgufType::Array) os << "[" << arraySize() << " x " << ggufTypeName(elemType) << "]";
  else if (type == GgufType::String) os << '"' << s.substr(0, 60) << (s.size() > 60 ? "..." : "") << '"';
  else if (type == GgufType::Bool) os << (b ? "true" : "false");
  else if (isFloat()) os << f;
  else os << i;
  return os.str();
}

const GgufValue* GgufHeader::find(const std::string& key) const {
  auto it = kv.find(key);
  return it == kv.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufHeader::tensor(const std::string& name) const {
  for (const GgufTensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

GgufHeader parseGguf(const uint8_t* data, size_t size, const std::string& fileName) {
  Cursor c(data, size, fileName);
  DUO_CHECK(size >= 4, fileName, ": not a GGUF file: only ", size, " bytes");
  const uint32_t magic = c.read<uint32_t>("magic");
  DUO_CHECK(magic == kMagic, fileName, ": not a GGUF file (bad magic bytes)");
  GgufHeader h;
  h.version = c.read<uint32_t>("version");
  DUO_CHECK(!(h.version > 0xFFFF && (h.version & 0xFFFF) == 0), fileName, ": big-endian GGUF is not supported");
  DUO_CHECK(h.version == 2 || h.version == 3, fileName, ": GGUF version ", h.version, " is not supported (2 and 3 are)");
  const uint64_t nTensors = c.read<uint64_t>("tensor count");
  const uint64_t nKv = c.read<uint64_t>("metadata count");
  DUO_CHECK(nTensors <= kGgufMaxTensors, fileName, ": tensor count ", nTensors, " exceeds the limit ", kGgufMaxTensors);
  DUO_CHECK(nKv <= kGgufMaxKv, fileName, ": metadata count ", nKv, " exceeds the limit ", kGgufMaxKv);

  for (uint64_t k = 0; k < nKv; ++k) {
    std::string key = c.string("metadata key");
    const uint32_t t = c.read<uint32_t>("metadata value type");
    DUO_CHECK(knownType(t), fileName, ": metadata '", key, "' has unknown value type ", t);
    DUO_CHECK(h.kv.count(key) == 0, fileName, ": metadata key '", key, "' appears twice");
    GgufValue v;
    readValue(c, static_cast<GgufType>(t), key, 0, &v);
    h.keys.push_back(key);
    h.kv.emplace(std::move(key), std::move(v));
  }
  if (const GgufValue* a = h.find("general.alignment")) {
    DUO_CHECK(a->isInteger() && a->i > 0 && a->i <= (1 << 20) && (a->i & (a->i - 1)) == 0, fileName,
              ": general.alignment ", a->summary(), " is not a power of two in [1, 2^20]");
    h.alignment = static_cast<uint64_t>(a->i);
  }

  std::set<std::string> names;
  h.tensors.reserve(static_cast<size_t>(std::min<uint64_t>(nTensors, c.remaining() / 24 + 1)));
  for (uint64_t k = 0; k < nTensors; ++k) {
    GgufTensorInfo t;
    t.name = c.string("tensor name");
    DUO_CHECK(names.insert(t.name).second, fileName, ": tensor '", t.name, "' appears twice");
    const std::string who = "tensor '" + t.name + "'";
    const uint32_t nDims = c.read<uint32_t>("tensor dimension count");
    DUO_CHECK(nDims >= 1 && nDims <= kMaxDims, fileName, ": ", who, ": ", nDims, " dimensions (1 to ", kMaxDims, " accepted)");
    t.elements = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      const uint64_t ne = c.read<uint64_t>("tensor dimension");
      DUO_CHECK(ne >= 1 && ne <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / t.elements), fileName,
                ": ", who, ": dimension ", d, " = ", ne, " is zero or overflows the element count");
      t.ne.push_back(static_cast<int64_t>(ne));
      t.elements *= static_cast<int64_t>(ne);
    }
    t.type = c.read<uint32_t>("tensor type");
    const GgmlTypeTraits traits = typeTraits(t.type);
    DUO_CHECK(traits.name != nullptr, fileName, ": ", who, ": unknown storage type ", t.type);
    DUO_CHECK(t.ne[0] % traits.blockElems == 0, fileName, ": ", who, ": row length ", t.ne[0],
              " is not a multiple of the ", traits.name, " block size ", traits.blockElems);
    t.bytes = ggmlByteSize(t.type, t.elements);
    DUO_CHECK(t.bytes >= 0, fileName, ": ", who, ": byte size overflows");
    t.offset = c.read<uint64_t>("tensor offset");
    DUO_CHECK(t.offset % h.alignment == 0, fileName, ": ", who, ": offset ", t.offset,
              " is not a multiple of the alignment ", h.alignment);
    h.tensors.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t infoEnd = c.pos();
  h.dataOffset = (infoEnd + h.alignment - 1) / h.alignment * h.alignment;
  const uint64_t dataBytes = h.dataOffset <= size ? size - h.dataOffset : 0;
  std::vector<const GgufTensorInfo*> byOffset;
  for (const GgufTensorInfo& t : h.tensors) {
    DUO_CHECK(t.offset <= dataBytes && static_cast<uint64_t>(t.bytes) <= dataBytes - t.offset, fileName,
              ": tensor '", t.name, "' data [", t.offset, ", ", t.offset + static_cast<uint64_t>(t.bytes),
              ") is not within the data section of ", dataBytes, " bytes (truncated file?)");
    byOffset.push_back(&t);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < byOffset.size(); ++k) {
    const GgufTensorInfo& a = *byOffset[k - 1];
    const GgufTensorInfo& b = *byOffset[k];
    DUO_CHECK(b.offset >= a.offset + static_cast<uint64_t>(a.bytes), fileName, ": tensors '", a.name, "' [", a.offset,
              ", ", a.offset + static_cast<uint64_t>(a.bytes), ") and '", b.name, "' [", b.offset, ", ",
              b.offset + static_cast<uint64_t>(b.bytes), ") overlap");
  }
  return h;
}

const GgufValue& GgufMeta::get(const std::string& key) const {
  const GgufValue* v = m_h.find(key);
  DUO_CHECK(v != nullptr, m_file, ": missing metadata '", key, "'");
  return *v;
}

int64_t GgufMeta::integer(const std::string& key) const {
  const GgufValue& v = get(key);
  DUO_CHECK(v.isInteger(), m_file, ": metadata '", key, "' should be an integer, is ", ggufTypeName(v.type));
  return v.i;
}

int64_t GgufMeta::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

double GgufMeta::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const GgufValue& v = get(key);
  DUO_CHECK(v.isInteger() || v.isFloat(), m_file, ": metadata '", key, "' should be a number, is ", ggufTypeName(v.type));
  return v.isFloat() ? v.f : static_cast<double>(v.i);
}

std::string GgufMeta::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const GgufValue& v = get(key);
  DUO_CHECK(v.type == GgufType::String, m_file, ": metadata '", key, "' should be a string, is ", ggufTypeName(v.type));
  return v.s;
}

bool GgufMeta::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const GgufValue& v = get(key);
  DUO_CHECK(v.type == GgufType::Bool, m_file, ": metadata '", key, "' should be a boolean, is ", ggufTypeName(v.type));
  return v.b;
}

const GgufValue* GgufMeta::array(const std::string& key, GgufType elemType) const {
  const GgufValue* v = m_h.find(key);
  if (v == nullptr) return nullptr;
  DUO_CHECK(v->type == GgufType::Array, m_file, ": metadata '", key, "' should be an array, is ", ggufTypeName(v->type));
  const bool intLike = elemType != GgufType::String && elemType != GgufType::F32 && elemType != GgufType::F64 &&
                       elemType != GgufType::Array;
  const bool elemIntLike = v->elemType != GgufType::String && v->elemType != GgufType::F32 &&
                           v->elemType != GgufType::F64 && v->elemType != GgufType::Array;
  const bool floatLike = elemType == GgufType::F32 || elemType == GgufType::F64;
  const bool ok = v->elemType == elemType || (intLike && elemIntLike) ||
                  (floatLike && (v->elemType == GgufType::F32 || v->elemType == GgufType::F64));
  DUO_CHECK(ok, m_file, ": metadata '", key, "' should be an array of ", ggufTypeName(elemType), ", has ",
            ggufTypeName(v->elemType), " elements");
  return v;
}

GgufFile::GgufFile(const std::string& path) : MappedModelFile(path, parseGguf) {}

void GgufFile::readF32(const GgufTensorInfo& t, float* dst) const {
  const GgmlTypeTraits traits = typeTraits(t.type);
  DUO_CHECK(traits.dequantizable, path(), ": tensor '", t.name, "': storage type ", ggmlTypeName(t.type),
            " is not supported (supported: ", dequantizableTypeNames(), ")");
  dequantize(static_cast<GgmlType>(t.type), tensorBytes(t), dst, t.elements);
}

}  // namespace duo
