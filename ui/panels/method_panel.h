// SPDX-License-Identifier: GPL-3.0-or-later
// Method panel: which pruning method runs and its options, each with a tooltip that says what it
// does. Options that a method ignores are disabled. Values persist in QSettings ("method/...").
#pragma once
#include <QWidget>

#include "core/job/prune_job.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;

namespace duo::ui {

class MethodPanel : public QWidget {
  Q_OBJECT
 public:
  explicit MethodPanel(QWidget* parent = nullptr);

  Method method() const;
  // Writes method, score, alpha, damp, blockSize, device into `req`.
  void fillRequest(PruneRequest* req) const;
  void showRequest(const PruneRequest& req);

  // One sentence about a method, as its tooltip and the panel's description line show it.
  static QString describe(Method m);

  void saveSettings() const;
  void loadSettings();

 Q_SIGNALS:
  void changed();

 private:
  void updateEnabled();
  // The Products combo's bf16/auto labels and tooltip for the device chosen.
  void updateProducts();

  QComboBox* m_method;
  QLabel* m_description;
  QComboBox* m_score;
  QDoubleSpinBox* m_alpha;
  QDoubleSpinBox* m_damp;
  QSpinBox* m_block;
  QComboBox* m_device;
  QComboBox* m_compute;  // calibration products: f32 | bf16
};

}  // namespace duo::ui
