// SPDX-License-Identifier: GPL-3.0-or-later
// One model, named once and resolved once: the name the user gave ("tiny", a folder, a file inside
// one, a .gguf), where it lives, its format, its headers (config.json or the GGUF header, and the
// weights' tensor table: ModelInfo) and its content hash. A job resolves the model at its entry
// and hands the ModelRef down, so the path is resolved and the config parsed there alone; front
// ends that need the headers before the job (the CLI's calibration advice) make it and pass it in.
// Torch-free value type; copies share the hash once computed.
#pragma once
#include <memory>
#include <string>

#include "core/model/io/model_info.h"
#include "core/model/model_config.h"

namespace duo {

class ModelRef {
 public:
  ModelRef() = default;  // names no model
  // Resolves `nameOrPath` (aliases through resolveModelPath, a file inside an HF folder to the
  // folder) and reads its headers. Throws duo::Error naming the path and the fault.
  static ModelRef resolve(const std::string& nameOrPath);

  bool empty() const { return m_info.path.empty(); }
  const std::string& name() const { return m_name; }           // as given
  const std::string& path() const { return m_info.path; }      // the HF folder or the GGUF file
  const std::string& format() const { return m_info.format; }  // "hf-safetensors" | "gguf"
  const ModelInfo& info() const { return m_info; }
  const ModelConfig& config() const { return m_info.config; }

  // modelContentHash(path()), computed on first use and kept; the files' hashes come through
  // sha256FileCached, so a file unchanged since an earlier run is not read again. Thread-safe.
  std::string contentHash() const;

 private:
  struct HashSlot;  // the hash once computed, shared by copies

  std::string m_name;
  ModelInfo m_info;
  std::shared_ptr<HashSlot> m_hash;
};

}  // namespace duo
