// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sparsity_model.h"

#include <QBrush>
#include <QFont>
#include <QPalette>
#include <QUndoCommand>
#include <algorithm>

#include "core/job/decode_estimate.h"
#include "ui/core_types.h"

namespace duo::ui {

// One undoable edit: the whole config before and after.
class SnapshotCommand : public QUndoCommand {
 public:
  SnapshotCommand(SparsityModel* model, SparsityConfig before, SparsityConfig after, const QString& text, int mergeId)
      : QUndoCommand(text), m_model(model), m_before(std::move(before)), m_after(std::move(after)), m_id(mergeId) {}
  void redo() override { m_model->replaceConfig(m_after); }
  void undo() override { m_model->replaceConfig(m_before); }
  int id() const override { return m_id; }
  // A run of steps with the same id (a slider drag) becomes one step: before of the first, after
  // of the last.
  bool mergeWith(const QUndoCommand* other) override {
    const auto* o = static_cast<const SnapshotCommand*>(other);
    m_after = o->m_after;
    setText(o->text());
    return true;
  }

 private:
  SparsityModel* m_model;
  SparsityConfig m_before, m_after;
  int m_id = -1;
};

namespace {
// internalId of an index: 0 for a layer row, layer + 1 for a projection row under that layer.
constexpr quintptr kLayerRow = 0;
}  // namespace

SparsityModel::SparsityModel(QObject* parent) : QAbstractItemModel(parent) {}

void SparsityModel::setModel(const ModelConfig& cfg, const SparsityConfig& initial) {
  beginResetModel();
  m_model = cfg;
  m_config = initial;
  endResetModel();
  m_undo.clear();
  Q_EMIT configChanged();
}

void SparsityModel::apply(const SparsityConfig& next, const QString& what, int mergeId) {
  if (next == m_config) return;  // compares values, N:M and the act rule
  m_undo.push(new SnapshotCommand(this, m_config, next, what, mergeId));
}

void SparsityModel::replaceConfig(const SparsityConfig& cfg) {
  const bool reshaped = cfg.numLayers() != m_config.numLayers();
  if (reshaped) beginResetModel();
  m_config = cfg;
  if (reshaped) {
    endResetModel();
  } else if (m_config.numLayers() > 0) {
    Q_EMIT dataChanged(index(0, ColWeight), index(rowCount() - 1, ColKept));
    for (int l = 0; l < m_config.numLayers(); ++l) {
      const QModelIndex parent = index(l, 0);
      Q_EMIT dataChanged(index(0, ColWeight, parent), index(kNumProj - 1, ColKept, parent));
    }
  }
  Q_EMIT configChanged();
}

void SparsityModel::setValues(const QModelIndexList& rows, Column column, double fraction) {
  if (column != ColWeight && column != ColAct) return;
  fraction = std::clamp(fraction, 0.0, kMaxSparsity);
  SparsityConfig next = m_config;
  int touched = 0;
  for (const QModelIndex& idx : rows) {
    const int layer = layerOf(idx);
    if (layer < 0 || layer >= next.numLayers()) continue;
    const int proj = projOf(idx);
    ++touched;
    if (column == ColWeight) {
      if (proj < 0) {
        for (int p = 0; p < kNumProj; ++p) next.setWeight(layer, static_cast<Proj>(p), fraction);
      } else {
        next.setWeight(layer, static_cast<Proj>(proj), fraction);
      }
    } else {
      if (proj < 0) {
        for (int s = 0; s < kNumSites; ++s) next.setSiteAct(layer, static_cast<Site>(s), fraction);
      } else {
        next.setSiteAct(layer, siteOf(static_cast<Proj>(proj)), fraction);
      }
    }
  }
  if (touched == 0) return;
  const QString what = QString("set %1 sparsity of %2 row%3 to %4")
                           .arg(column == ColWeight ? "weight" : "activation")
                           .arg(touched)
                           .arg(touched == 1 ? "" : "s")
                           .arg(formatPercent(fraction));
  apply(next, what);
}

double SparsityModel::projParams(const ModelConfig& cfg, Proj p) {
  const double d = static_cast<double>(cfg.hiddenSize);
  switch (p) {
    case Proj::Q: return static_cast<double>(cfg.qDim()) * d;
    case Proj::K:
    case Proj::V: return static_cast<double>(cfg.kvDim()) * d;
    case Proj::O: return d * static_cast<double>(cfg.qDim());
    case Proj::Gate:
    case Proj::Up:
    case Proj::Down: return d * static_cast<double>(cfg.intermediateSize);
  }
  return 0;
}

double SparsityModel::prunableParams() const {
  double total = 0;
  for (int p = 0; p < kNumProj; ++p) total += projParams(m_model, static_cast<Proj>(p));
  return total * m_config.numLayers();
}

double SparsityModel::keptParams() const {
  double kept = 0;
  for (int l = 0; l < m_config.numLayers(); ++l)
    for (int p = 0; p < kNumProj; ++p)
      kept += projParams(m_model, static_cast<Proj>(p)) * (1.0 - m_config.at(l, static_cast<Proj>(p)).weight);
  return kept;
}

double SparsityModel::idealTrafficFraction() const {
  double dense = 0, sparse = 0;
  for (int l = 0; l < m_config.numLayers(); ++l)
    for (int p = 0; p < kNumProj; ++p) {
      const ProjSparsity& s = m_config.at(l, static_cast<Proj>(p));
      const double n = projParams(m_model, static_cast<Proj>(p));
      dense += n;
      sparse += n * (1.0 - s.weight) * (1.0 - s.act);
    }
  return dense > 0 ? sparse / dense : 1.0;
}

SparsityModel::DecodeEstimate SparsityModel::decodeEstimate(int contextTokens) const {
  DecodeEstimate out;
  if (m_config.numLayers() == 0 || m_model.hiddenSize <= 0) return out;
  // bandwidth 1 GB/s: seconds * 1e9 = bytes; the speedup does not depend on bandwidth
  const perf::DecodePrediction pred =
      predictDecodeFor(m_model, m_config, contextTokens, 1.0, nullptr, m_values, m_int8Inputs);
  out.denseBytes = pred.denseSeconds.total() * 1e9;
  out.sparseBytes = pred.sparseSeconds.total() * 1e9;
  out.speedup = out.bytesSpeedup = pred.speedup;
  if (m_timing && !m_timing->empty() && m_timing->values != m_values) {
    out.timingProblem = "it was measured with " + std::string(kernels::valueTypeName(m_timing->values)) +
                        " values, the prediction is for " + kernels::valueTypeName(m_values);
  } else if (m_timing && !m_timing->empty() && m_timing->int8Inputs != m_int8Inputs) {
    out.timingProblem = std::string("it was measured ") + (m_timing->int8Inputs ? "with" : "without") +
                        " int8 inputs, the prediction is " + (m_int8Inputs ? "with" : "without") + " them";
  } else if (m_timing && !m_timing->empty()) {
    try {
      // As the CLI's `calibrated_speedup` and the allocator's table times (the three agree exactly).
      const perf::DecodePrediction timed =
          predictDecodeFor(m_model, m_config, contextTokens, kDecodeBandwidthGbs, m_timing.get(), m_values, m_int8Inputs);
      out.speedup = timed.speedup;
      out.denseSeconds = timed.denseSeconds.total();
      out.sparseSeconds = timed.sparseSeconds.total();
      out.timed = true;
    } catch (const std::exception& e) {
      out.timingProblem = e.what();  // a profile of another model: the bytes model's numbers stand
    }
  }
  return out;
}

void SparsityModel::setDecodeValues(kernels::ValueType values, bool int8Inputs) {
  int8Inputs = int8Inputs && values == kernels::ValueType::I8;
  if (values == m_values && int8Inputs == m_int8Inputs) return;
  m_values = values;
  m_int8Inputs = int8Inputs;
  Q_EMIT timingChanged();
}

void SparsityModel::setTimingProfile(std::shared_ptr<const perf::TimingProfile> profile) {
  m_timing = std::move(profile);
  Q_EMIT timingChanged();
}

ProjSparsity SparsityModel::layerMean(int layer) const {
  ProjSparsity mean;
  double params = 0;
  for (int p = 0; p < kNumProj; ++p) {
    const double n = projParams(m_model, static_cast<Proj>(p));
    const ProjSparsity& s = m_config.at(layer, static_cast<Proj>(p));
    mean.weight += n * s.weight;
    mean.act += n * s.act;
    params += n;
  }
  if (params <= 0) return ProjSparsity{};
  mean.weight /= params;
  mean.act /= params;
  return mean;
}

int SparsityModel::layerOf(const QModelIndex& idx) {
  if (!idx.isValid()) return -1;
  return idx.internalId() == kLayerRow ? idx.row() : static_cast<int>(idx.internalId() - 1);
}

int SparsityModel::projOf(const QModelIndex& idx) {
  if (!idx.isValid() || idx.internalId() == kLayerRow) return -1;
  return idx.row();
}

QModelIndex SparsityModel::index(int row, int column, const QModelIndex& parent) const {
  if (column < 0 || column >= ColCount || row < 0) return {};
  if (!parent.isValid()) {
    if (row >= m_config.numLayers()) return {};
    return createIndex(row, column, kLayerRow);
  }
  if (parent.internalId() != kLayerRow || row >= kNumProj) return {};
  return createIndex(row, column, static_cast<quintptr>(parent.row() + 1));
}

QModelIndex SparsityModel::parent(const QModelIndex& child) const {
  if (!child.isValid() || child.internalId() == kLayerRow) return {};
  return createIndex(static_cast<int>(child.internalId() - 1), 0, kLayerRow);
}

int SparsityModel::rowCount(const QModelIndex& parent) const {
  if (!parent.isValid()) return m_config.numLayers();
  if (parent.internalId() == kLayerRow && parent.column() == 0) return kNumProj;
  return 0;
}

int SparsityModel::columnCount(const QModelIndex&) const { return ColCount; }

QVariant SparsityModel::data(const QModelIndex& idx, int role) const {
  if (!idx.isValid()) return {};
  const int layer = layerOf(idx);
  const int proj = projOf(idx);
  const bool isLayer = proj < 0;
  const Proj p = isLayer ? Proj::Q : static_cast<Proj>(proj);
  const ProjSparsity shown = isLayer ? layerMean(layer) : m_config.at(layer, p);
  const double w = shown.weight;
  const double a = shown.act;
  if (role == Qt::DisplayRole) {
    switch (idx.column()) {
      case ColName: return isLayer ? QString("layer %1").arg(layer) : QString(projName(p));
      case ColWeight: return formatPercent(w);
      case ColAct: return formatPercent(a);
      case ColSite: return isLayer ? QString() : QString(siteName(siteOf(p)));
      case ColKept: {
        double n = 0;
        if (isLayer) {
          for (int q = 0; q < kNumProj; ++q)
            n += projParams(m_model, static_cast<Proj>(q)) * (1.0 - m_config.at(layer, static_cast<Proj>(q)).weight);
        } else {
          n = projParams(m_model, p) * (1.0 - w);
        }
        return formatCount(n);
      }
    }
  } else if (role == Qt::EditRole) {
    if (idx.column() == ColWeight) return w;
    if (idx.column() == ColAct) return a;
  } else if (role == Qt::TextAlignmentRole) {
    if (idx.column() != ColName && idx.column() != ColSite)
      return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  } else if (role == Qt::FontRole && isLayer) {
    QFont f;
    f.setBold(true);
    return f;
  } else if (role == Qt::ToolTipRole) {
    if (idx.column() == ColAct)
      return isLayer ? QString("Parameter-weighted mean activation sparsity of layer %1; editing sets all 4 input sites").arg(layer)
                     : QString("Activation sparsity of input site '%1' (shared by its projections)").arg(siteName(siteOf(p)));
    if (idx.column() == ColWeight)
      return isLayer ? QString("Parameter-weighted mean weight sparsity of layer %1; editing sets all 7 projections").arg(layer)
                     : QString("Fraction of %1's weights pruned").arg(projName(p));
  }
  return {};
}

bool SparsityModel::setData(const QModelIndex& idx, const QVariant& value, int role) {
  if (role != Qt::EditRole || !idx.isValid()) return false;
  if (idx.column() != ColWeight && idx.column() != ColAct) return false;
  bool ok = false;
  const double v = value.toDouble(&ok);
  if (!ok || !(v >= 0.0) || v > kMaxSparsity) return false;
  setValues({idx}, static_cast<Column>(idx.column()), v);
  return true;
}

Qt::ItemFlags SparsityModel::flags(const QModelIndex& idx) const {
  if (!idx.isValid()) return Qt::NoItemFlags;
  Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
  if (idx.column() == ColWeight || idx.column() == ColAct) f |= Qt::ItemIsEditable;
  return f;
}

QVariant SparsityModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal) return {};
  if (role == Qt::DisplayRole) {
    switch (section) {
      // Short headers (the tooltips say it in full): the table fits beside the plots in 1000 pixels.
      case ColName: return QStringLiteral("Layer");
      case ColWeight: return QStringLiteral("W sp.");
      case ColAct: return QStringLiteral("A sp.");
      case ColSite: return QStringLiteral("Site");
      case ColKept: return QStringLiteral("Kept");
    }
  } else if (role == Qt::ToolTipRole) {
    switch (section) {
      case ColName: return QStringLiteral("Layer, and its projections when expanded");
      case ColSite: return QStringLiteral("Input site a projection reads (q/k/v share one, gate/up share one)");
      case ColWeight: return QStringLiteral("Unstructured (or N:M) weight sparsity p_w: fraction of weights set to zero");
      case ColAct: return QStringLiteral("Activation sparsity p_a: fraction of each input vector zeroed at run time (q/k/v share one input, gate/up share one)");
      case ColKept: return QStringLiteral("Weights kept: non-zero weights left after pruning");
    }
  }
  return {};
}

}  // namespace duo::ui
