// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/model_ref.h"

#include <mutex>

#include "core/common/model_hash.h"

namespace duo {

struct ModelRef::HashSlot {
  std::mutex mutex;
  std::string value;  // "" until computed
};

ModelRef ModelRef::resolve(const std::string& nameOrPath) {
  ModelRef r;
  r.m_name = nameOrPath;
  r.m_info = inspectModel(nameOrPath);  // resolves the alias and the location, reads the headers
  r.m_hash = std::make_shared<HashSlot>();
  return r;
}

std::string ModelRef::contentHash() const {
  if (!m_hash) return modelContentHash(path());  // a default-constructed ref: nothing to keep it in
  std::lock_guard<std::mutex> lock(m_hash->mutex);
  if (m_hash->value.empty()) m_hash->value = modelContentHash(path());
  return m_hash->value;
}

}  // namespace duo
