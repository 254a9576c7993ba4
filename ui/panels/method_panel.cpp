// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/method_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QSettings>
#include <QSpinBox>

#include "core/common/device.h"
#include "ui/core_types.h"
#include "ui/panels/settings_form.h"

namespace duo::ui {

QString MethodPanel::describe(Method m) {
  switch (m) {
    case Method::Dense: return "No pruning: the dense model, as the reference for error and perplexity.";
    case Method::Magnitude: return "Prunes the weights of smallest |W| in each projection. No calibration update.";
    case Method::Wanda:
      return "Wanda: prunes by |W_ij| · ‖X_j‖ within each output row, using calibration inputs. No update.";
    case Method::SparseGpt:
      return "SparseGPT: optimal-brain-surgeon pruning that updates the kept weights to compensate, on the "
             "pruned stream with dense activations.";
    case Method::SparseGptSparseIn:
      return "SparseGPT on sparsified inputs: the same solver, but its inputs already carry activation sparsity "
             "(no residual correction). Separates the two ingredients of DuoGPT.";
    case Method::Teal:
      return "TEAL: activation sparsity only; weights stay dense. The activation rule and sparsity come from the "
             "table.";
    case Method::DuoGpt:
      return "DuoGPT: OBS pruning towards the dense model's outputs with residual correction, so the kept "
             "weights also absorb the error of activation sparsity and of earlier layers.";
  }
  return {};
}

MethodPanel::MethodPanel(QWidget* parent) : QWidget(parent) {
  QFormLayout* form = settingsForm(this);

  m_method = new QComboBox;
  m_method->setObjectName("method");
  for (Method m : allMethods()) {
    m_method->addItem(methodName(m), static_cast<int>(m));
    m_method->setItemData(m_method->count() - 1, describe(m), Qt::ToolTipRole);
  }
  m_method->setCurrentIndex(m_method->findData(static_cast<int>(Method::DuoGpt)));
  form->addRow("Method:", m_method);
  m_description = new QLabel;
  m_description->setObjectName("methodDescription");
  m_description->setWordWrap(true);
  m_description->setStyleSheet("color: palette(dark);");
  form->addRow(m_description);

  m_score = new QComboBox;
  m_score->setObjectName("score");
  for (Score s : {Score::Full, Score::Marginal, Score::SparseGpt}) m_score->addItem(scoreName(s), static_cast<int>(s));
  m_score->setToolTip(
      "DuoGPT's pruning score per weight:\n"
      "full: W² (1/U_jj² + 2c_j + a_j − b_j), the error left whether the weight is pruned or kept (default)\n"
      "marginal: W² (1/U_jj² + 2c_j), only the extra error of pruning it\n"
      "sparsegpt: W² / U_jj², ignores the residual (SparseGPT's score)");
  form->addRow("Score:", m_score);

  m_alpha = new QDoubleSpinBox;
  m_alpha->setObjectName("alpha");
  m_alpha->setRange(0.0, 1.0);
  m_alpha->setSingleStep(0.05);
  m_alpha->setDecimals(2);
  m_alpha->setValue(0.25);
  m_alpha->setToolTip("Residual-correction damping α: how much of the dense-output residual the update chases "
                      "(0 = none, SparseGPT-like; 1 = all). Default 0.25 (GPTAQ's choice too): 0.5 fits the calibration text "
                      "and loses outside it (docs/results.md).");
  form->addRow("Alpha:", m_alpha);

  m_damp = new QDoubleSpinBox;
  m_damp->setObjectName("damp");
  m_damp->setRange(0.0001, 1.0);
  m_damp->setDecimals(4);
  m_damp->setSingleStep(0.005);
  m_damp->setValue(0.01);
  m_damp->setToolTip("Hessian damping λ: H += λ · mean(diag H) · I before the Cholesky factorisation. Raise it if "
                     "the solver reports an ill-conditioned Hessian.");
  form->addRow("Damping:", m_damp);

  m_block = new QSpinBox;
  m_block->setObjectName("blockSize");
  m_block->setRange(8, 4096);
  m_block->setSingleStep(32);
  m_block->setValue(128);
  m_block->setToolTip("Columns solved together before the lazy batch update of the rest; the mask is chosen per "
                      "block. Changes speed, not the result's quality much.");
  form->addRow("Block size:", m_block);

  m_device = new QComboBox;
  m_device->setObjectName("device");
  m_device->addItem("auto", "");
  m_device->addItem("cpu", "cpu");
  m_device->addItem("cuda", "cuda");
  m_device->setToolTip("Where calibration runs: auto uses CUDA when LibTorch sees a GPU");
  form->addRow("Device:", m_device);

  m_compute = new QComboBox;
  m_compute->setObjectName("computeDtype");
  m_compute->addItem("f32", "f32");
  m_compute->addItem("bf16", "bf16");
  m_compute->addItem("auto", "auto");
  updateProducts();
  form->addRow("Products:", m_compute);

  connect(m_method, QOverload<int>::of(&QComboBox::currentIndexChanged), this, [this] {
    updateEnabled();
    Q_EMIT changed();
  });
  // The bf16 labels say what bf16 products are on the device chosen (cpu on a CUDA machine: the CPU's).
  connect(m_device, QOverload<int>::of(&QComboBox::currentIndexChanged), this, &MethodPanel::updateProducts);
  for (QComboBox* c : {m_score, m_device, m_compute})
    connect(c, QOverload<int>::of(&QComboBox::currentIndexChanged), this, &MethodPanel::changed);
  for (QDoubleSpinBox* s : {m_alpha, m_damp})
    connect(s, QOverload<double>::of(&QDoubleSpinBox::valueChanged), this, &MethodPanel::changed);
  connect(m_block, QOverload<int>::of(&QSpinBox::valueChanged), this, &MethodPanel::changed);
  updateEnabled();
}

void MethodPanel::updateProducts() {
  // What bf16 products are where the run will go: "auto" runs on CUDA when LibTorch sees a GPU.
  const QString dev = m_device->currentData().toString();
  const bool cuda = dev == "cuda" || (dev.isEmpty() && deviceInfo().cuda);
  const Bf16Products b16 = bf16Products(cuda);
  m_compute->setItemText(m_compute->findData("bf16"), b16.fast       ? "bf16 (faster here)"
                                                      : b16.fallback ? "bf16 (emulated here: no gain)"
                                                                     : "bf16");
  m_compute->setItemText(m_compute->findData("auto"), QString("auto (%1 here)").arg(b16.fast ? "bf16" : "f32"));
  m_compute->setToolTip(QString("The calibration's matrix products: f32, or bf16 with f32 accumulation (oneDNN's AMX / "
                                "AVX-512 BF16 paths, tensor cores on CUDA): faster, with masks that differ from f32's in "
                                "a fraction of a percent of the weights; auto takes bf16 where it is native. On the "
                                "device chosen: %1 (prune --compute-dtype; docs/method.md, \"Compute dtype\")")
                            .arg(QString::fromStdString(b16.detail)));
}

Method MethodPanel::method() const { return static_cast<Method>(m_method->currentData().toInt()); }

void MethodPanel::updateEnabled() {
  const Method m = method();
  const bool obs = m == Method::SparseGpt || m == Method::SparseGptSparseIn || m == Method::DuoGpt;
  m_score->setEnabled(m == Method::DuoGpt);
  m_alpha->setEnabled(m == Method::DuoGpt);
  m_damp->setEnabled(obs);
  m_block->setEnabled(obs);
  m_description->setText(describe(m));
  m_method->setToolTip(describe(m));
}

void MethodPanel::fillRequest(PruneRequest* req) const {
  req->method = method();
  req->score = static_cast<Score>(m_score->currentData().toInt());
  req->alpha = m_alpha->value();
  req->damp = m_damp->value();
  req->blockSize = m_block->value();
  req->device = ss(m_device->currentData().toString());
  req->computeDtype = ss(m_compute->currentData().toString());
}

void MethodPanel::showRequest(const PruneRequest& req) {
  m_method->setCurrentIndex(m_method->findData(static_cast<int>(req.method)));
  m_score->setCurrentIndex(m_score->findData(static_cast<int>(req.score)));
  m_alpha->setValue(req.alpha);
  m_damp->setValue(req.damp);
  m_block->setValue(req.blockSize);
  const int d = m_device->findData(qs(req.device));
  m_device->setCurrentIndex(d >= 0 ? d : 0);
  const int c = m_compute->findData(qs(req.computeDtype));
  m_compute->setCurrentIndex(c >= 0 ? c : 0);
}

void MethodPanel::saveSettings() const {
  QSettings s;
  s.setValue("method/name", QString(methodName(method())));
  s.setValue("method/score", m_score->currentText());
  s.setValue("method/alpha", m_alpha->value());
  s.setValue("method/damp", m_damp->value());
  s.setValue("method/block", m_block->value());
  s.setValue("method/device", m_device->currentData().toString());
  s.setValue("method/computeDtype", m_compute->currentData().toString());
}

void MethodPanel::loadSettings() {
  QSettings s;
  if (!s.contains("method/name")) return;
  PruneRequest req;
  methodFromName(ss(s.value("method/name").toString()), &req.method);
  scoreFromName(ss(s.value("method/score").toString()), &req.score);
  req.alpha = s.value("method/alpha", 0.25).toDouble();
  req.damp = s.value("method/damp", 0.01).toDouble();
  req.blockSize = s.value("method/block", 128).toInt();
  req.device = ss(s.value("method/device").toString());
  req.computeDtype = ss(s.value("method/computeDtype", "f32").toString());
  showRequest(req);
}

}  // namespace duo::ui
