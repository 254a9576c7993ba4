// SPDX-License-Identifier: GPL-3.0-or-later
// Builds GGUF files byte by byte for the GGUF tests (test_gguf*.cpp): metadata of any type,
// tensor infos and data at aligned offsets, with hooks to write deliberately broken files.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace duo::test {

class GgufBuilder {
 public:
  uint32_t version = 3;
  uint64_t alignment = 32;  // used for layout; write "general.alignment" yourself to change it

  // Appends raw little-endian values to a byte string.
  template <typename T>
  static void put(std::string& s, T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  static void putStr(std::string& s, const std::string& v) {
    put<uint64_t>(s, v.size());
    s += v;
  }

  // Metadata: key, GGUF value type id and the already-encoded value bytes.
  void kvRaw(const std::string& key, uint32_t type, const std::string& value) {
    std::string e;
    putStr(e, key);
    put<uint32_t>(e, type);
    m_kv.push_back(e + value);
  }
  template <typename T>
  void kv(const std::string& key, uint32_t type, T v) {
    std::string b;
    put<T>(b, v);
    kvRaw(key, type, b);
  }
  void kvU32(const std::string& k, uint32_t v) { kv<uint32_t>(k, 4, v); }
  void kvI32(const std::string& k, int32_t v) { kv<int32_t>(k, 5, v); }
  void kvF32(const std::string& k, float v) { kv<float>(k, 6, v); }
  void kvBool(const std::string& k, bool v) { kv<uint8_t>(k, 7, v ? 1 : 0); }
  void kvU64(const std::string& k, uint64_t v) { kv<uint64_t>(k, 10, v); }
  void kvStr(const std::string& k, const std::string& v) {
    std::string b;
    putStr(b, v);
    kvRaw(k, 8, b);
  }
  void kvStrArray(const std::string& k, const std::vector<std::string>& v) {
    std::string b;
    put<uint32_t>(b, 8);
    put<uint64_t>(b, v.size());
    for (const std::string& s : v) putStr(b, s);
    kvRaw(k, 9, b);
  }
  void kvI32Array(const std::string& k, const std::vector<int32_t>& v) {
    std::string b;
    put<uint32_t>(b, 5);
    put<uint64_t>(b, v.size());
    for (int32_t x : v) put<int32_t>(b, x);
    kvRaw(k, 9, b);
  }
  void kvF32Array(const std::string& k, const std::vector<float>& v) {
    std::string b;
    put<uint32_t>(b, 6);
    put<uint64_t>(b, v.size());
    for (float x : v) put<float>(b, x);
    kvRaw(k, 9, b);
  }

  // A tensor: ggml dims (ne[0] innermost), type id, stored bytes. offsetOverride >= 0 writes that
  // offset into the info instead of the computed one (the data still goes to the computed place).
  void tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type, const std::string& data,
              int64_t offsetOverride = -1) {
    m_tensors.push_back({name, ne, type, data, offsetOverride});
  }
  void tensorF32(const std::string& name, const std::vector<uint64_t>& ne, const std::vector<float>& v,
                 int64_t offsetOverride = -1) {
    tensor(name, ne, 0, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4), offsetOverride);
  }

  std::string build() const {
    std::string s = "GGUF";
    put<uint32_t>(s, version);
    put<uint64_t>(s, m_tensors.size());
    put<uint64_t>(s, m_kv.size());
    for (const std::string& e : m_kv) s += e;
    std::string data;
    for (const Tensor& t : m_tensors) {
      data.append((alignment - data.size() % alignment) % alignment, '\0');  // between tensors only
      const uint64_t offset = data.size();
      data += t.data;
      putStr(s, t.name);
      put<uint32_t>(s, uint32_t(t.ne.size()));
      for (uint64_t d : t.ne) put<uint64_t>(s, d);
      put<uint32_t>(s, t.type);
      put<uint64_t>(s, t.offsetOverride >= 0 ? uint64_t(t.offsetOverride) : offset);
    }
    s.append((alignment - s.size() % alignment) % alignment, '\0');
    return s + data;
  }

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::string data;
    int64_t offsetOverride;
  };
  std::vector<std::string> m_kv;
  std::vector<Tensor> m_tensors;
};

}  // namespace duo::test
