// SPDX-License-Identifier: GPL-3.0-or-later
// GGML tensor storage types and their conversion to float32. Torch-free, no allocation: the GGUF
// reader validates sizes with typeTraits() and the loader dequantises straight into a tensor.
// Block layouts follow ggml's (ggml-common.h); each is described next to its decoder, one file per
// family: dequant_q32.cpp, dequant_kquants.cpp, dequant_levels.cpp, dequant_codebook.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace duo {

// GGML type ids as stored in GGUF tensor infos (ggml.h's enum ggml_type).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35,
  MXFP4 = 39, NVFP4 = 40,
};

struct GgmlTypeTraits {
  const char* name = nullptr;   // "Q4_1"; nullptr for an id we do not know
  int64_t blockElems = 0;       // elements per block (1 for plain types)
  int64_t blockBytes = 0;       // bytes per block
  bool dequantizable = false;   // dequantize() supports it
};

// Traits of a type id; name == nullptr for ids we do not know (sizes unknown too).
GgmlTypeTraits typeTraits(uint32_t type);
// "Q4_1", or "type 42" for an unknown id.
std::string ggmlTypeName(uint32_t type);
// "F32, F16, Q4_0, ...": every type dequantize() decodes, for error messages.
std::string dequantizableTypeNames();

// Bytes that `elems` elements of `type` occupy; -1 when the type is unknown, `elems` is not a
// whole number of blocks, or the size overflows.
int64_t ggmlByteSize(uint32_t type, int64_t elems);

// Converts `elems` elements (a whole number of blocks) of `type` at `src` into `dst` [elems] f32.
// The caller has checked sizes with ggmlByteSize(); throws duo::Error for a type we cannot decode.
void dequantize(GgmlType type, const void* src, float* dst, int64_t elems);

// Scalar conversions (IEEE half with subnormals/inf/nan; bfloat16 = top half of a float32).
float halfToFloat(uint16_t h);
float bf16ToFloat(uint16_t b);
uint16_t floatToHalf(float f);  // round to nearest even; used by tests and writers

// Bulk versions (table-driven for F16).
void halfToFloat(const uint16_t* src, float* dst, int64_t n);
void bf16ToFloat(const uint16_t* src, float* dst, int64_t n);

}  // namespace duo
