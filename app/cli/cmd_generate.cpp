// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli generate: greedy continuation with the KV-cached decode step, for a human sanity check.
#include <iostream>

#include "app/cli/cli.h"
#include "core/common/error.h"
#include "core/model/model_loader.h"

namespace duo::cli {
namespace {

Registrar reg_generate("generate", [](CLI::App& app) {
  auto model = std::make_shared<std::string>("tiny");
  auto prompt = std::make_shared<std::string>("In the beginning");
  auto n = std::make_shared<int>(32);
  auto device = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("generate", "Greedy generation (KV-cached decode)");
  cmd->add_option("--model,-m", *model, "Model folder/file or alias (tiny, smollm2)")->capture_default_str();
  cmd->add_option("--prompt,-p", *prompt, "Prompt text")->capture_default_str();
  cmd->add_option("-n,--tokens", *n, "Tokens to generate")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--device", *device, "auto | cpu | cuda");
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([=] {
    torch::NoGradGuard noGrad;
    LoadedModel m = loadModel(*model, chooseDevice(*device), progressBar());
    finishProgress();
    std::vector<int32_t> ids = m.tokenizer->encode(*prompt, m.tokenizer->addsBos());
    DUO_CHECK(!ids.empty(), "generate: the prompt encodes to no tokens");
    const auto t0 = std::chrono::steady_clock::now();
    KvCache cache = m.model->newCache(1, static_cast<int64_t>(ids.size()) + *n);
    auto promptT = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);  // [1, P]
    auto logits = m.model->decodeStep(cache, promptT);  // [1, V]
    std::vector<int32_t> out;
    for (int i = 0; i < *n; ++i) {
      const int32_t next = static_cast<int32_t>(logits.argmax(-1).item<int64_t>());
      out.push_back(next);
      if (next == m.tokenizer->eosId()) break;
      logits = m.model->decodeStep(cache, torch::full({1, 1}, next, torch::kLong));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string text = m.tokenizer->decode(out);
    if (*json)
      printJson({{"prompt", *prompt}, {"completion", text}, {"tokens", out}, {"seconds", secs},
                 {"tokens_per_second", out.size() / secs}});
    else
      std::cout << *prompt << text << "\n";
  });
});

}  // namespace
}  // namespace duo::cli
