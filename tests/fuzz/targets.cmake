# SPDX-License-Identifier: GPL-3.0-or-later
# The fuzz targets: tests/fuzz/fuzz_<target>.cpp, seeds and regressions in tests/fuzz/corpus/<target>/.
# Shared by the libFuzzer build (CMakeLists.txt) and the corpus replay tests (replay.cmake).
set(DUO_FUZZ_TARGETS safetensors gguf hf_config tokenizer_json spm_model
    sparsity_config run_record mc_task timing_profile)
