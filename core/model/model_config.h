// The architecture of a LLaMA-family model, as read from config.json or GGUF metadata.
// Torch-free: the UI shows it.
#pragma once
#include <cstdint>
#include <string>

namespace duo {

struct RopeScaling {
  std::string type;                  // "" (none) or "llama3"
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
};

struct ModelConfig {
  std::string architecture = "llama";  // llama | mistral | qwen2 (all run through one decoder)
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;              // d_model
  int64_t intermediateSize = 0;        // SwiGLU inner width
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;              // == numHeads for MHA (LLaMA-2)
  int64_t headDim = 0;                 // hiddenSize / numHeads unless given
  int64_t maxPositions = 2048;
  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  bool tieWordEmbeddings = false;      // lm_head shares embed_tokens (SmolLM2)
  bool attentionBias = false;          // q/k/v biases (Qwen2)
  int64_t bosTokenId = -1;
  int64_t eosTokenId = -1;

  int64_t kvDim() const { return numKvHeads * headDim; }
  int64_t qDim() const { return numHeads * headDim; }
  // Parameters in weights (embeddings counted once when tied).
  int64_t parameterCount() const;
};

// The 7 prunable projections of one decoder layer, in data-flow order.
enum class Proj { Q = 0, K, V, O, Gate, Up, Down };
inline constexpr int kNumProj = 7;
const char* projName(Proj p);          // "q_proj", ..., "down_proj"
bool projFromName(const std::string& name, Proj* out);

// Input sites: projections that share one input vector share one activation-sparsity site.
enum class Site { Qkv = 0, O, GateUp, Down };
inline constexpr int kNumSites = 4;
Site siteOf(Proj p);
const char* siteName(Site s);          // "qkv", "o", "gate_up", "down"

}  // namespace duo
