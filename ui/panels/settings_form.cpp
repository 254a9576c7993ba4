// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/panels/settings_form.h"

#include <QFormLayout>
#include <QWidget>

namespace duo::ui {

QFormLayout* settingsForm(QWidget* tab) {
  auto* form = new QFormLayout(tab);
  form->setContentsMargins(6, 6, 6, 6);
  form->setVerticalSpacing(4);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  return form;
}

}  // namespace duo::ui
