// SPDX-License-Identifier: GPL-3.0-or-later
// duoscope-cli convert: any model we read (an HF folder, a pruned checkpoint, a GGUF) written as a
// GGUF file for llama.cpp (core/model/io/gguf_writer.h).
#include <iostream>

#include "app/cli/cli.h"
#include "app/cli/options.h"
#include "core/common/error.h"
#include "core/model/io/gguf_writer.h"
#include "core/model/io/model_info.h"
#include "core/model/io/weight_source.h"

namespace duo::cli {
namespace {

struct ConvertArgs {
  std::string model = "tiny", out, dtype = "f16", name;
  bool json = false;
};

Registrar reg_convert("convert", [](CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand("convert", "Write a model (HF folder, pruned checkpoint or GGUF) as a GGUF file");
  addModelOption(cmd, a->model);
  cmd->add_option("--out", a->out, "The .gguf file to write")->required();
  cmd->add_option("--out-dtype", a->dtype, "Embeddings and projections: f16 | bf16 | f32 (norms stay f32)")
      ->capture_default_str();
  cmd->add_option("--name", a->name, "general.name (default: the model's folder or file name)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] {
    GgufExportOptions o;
    o.dtype = parseDtype(a->dtype, "--out-dtype");
    o.name = a->name;
    const std::string path = resolveModelLocation(a->model);
    const TokenizerSpec tok = exportTokenizerSpec(path);
    auto source = openWeightSource(path);
    const GgufExportResult r = exportGguf(*source, tok, a->out, o, progressBar(a->json));
    finishProgress();
    if (a->json) {
      printJson({{"model", path}, {"out", r.path}, {"file_bytes", r.fileBytes}, {"tensors", r.tensors},
                 {"dtype", dtypeName(o.dtype)}, {"tokenizer", r.tokenizer}});
    } else {
      std::cout << "wrote " << r.path << " (" << r.tensors << " tensors, " << r.fileBytes / 1e6 << " MB, "
                << dtypeName(o.dtype) << ", tokenizer " << r.tokenizer << ")\n";
    }
  });
});

}  // namespace
}  // namespace duo::cli
