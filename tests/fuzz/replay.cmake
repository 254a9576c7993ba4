# SPDX-License-Identifier: GPL-3.0-or-later
# Corpus replay in the normal build (gcc or clang, no libFuzzer): one executable replay_<target>
# per fuzz target, fuzz_<target>.cpp + replay_main.cpp linked against the project's own libraries,
# and one CTest test fuzz_replay_<target> (label unit) that runs every committed input of
# tests/fuzz/corpus/<target>/ through it: the seeds, what fuzzing added, and each input that once
# failed (regression-*). Included from tests/CMakeLists.txt. Under DUO_FUZZ the same tests run the
# libFuzzer binaries with -runs=0 instead (tests/fuzz/CMakeLists.txt).
if(DUO_FUZZ)
  return()
endif()
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)  # DUO_FUZZ_TARGETS

add_library(duo_fuzz_replay_main OBJECT ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
target_link_libraries(duo_fuzz_replay_main PRIVATE duo_common)
target_compile_options(duo_fuzz_replay_main PRIVATE ${DUO_WARNINGS})
set_target_properties(duo_fuzz_replay_main PROPERTIES AUTOMOC OFF)  # no Qt here (tests/ turns it on)

# The file-format parsers link only their own core areas, so that the sanitizer pass of the
# README's test command (scripts/test-sanitize.sh --quick) builds them without the rest of core; the
# others take duo_core, which bundles every area (prune, io, data, engine).
set(DUO_FUZZ_LIBS_safetensors duo_model_io)
set(DUO_FUZZ_LIBS_gguf duo_model_io)
set(DUO_FUZZ_LIBS_hf_config duo_model_io)
set(DUO_FUZZ_LIBS_tokenizer_json duo_tokenizer)
set(DUO_FUZZ_LIBS_spm_model duo_tokenizer)
foreach(target ${DUO_FUZZ_TARGETS})
  add_executable(replay_${target} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${target}.cpp)
  if(DEFINED DUO_FUZZ_LIBS_${target})
    target_link_libraries(replay_${target} PRIVATE duo_fuzz_replay_main ${DUO_FUZZ_LIBS_${target}} duo_torch_flags)
  else()
    target_link_libraries(replay_${target} PRIVATE duo_fuzz_replay_main duo_core)
  endif()
  target_compile_options(replay_${target} PRIVATE ${DUO_WARNINGS})
  set_target_properties(replay_${target} PROPERTIES AUTOMOC OFF)
  add_test(NAME fuzz_replay_${target} COMMAND replay_${target} ${CMAKE_CURRENT_LIST_DIR}/corpus/${target})
  set_tests_properties(fuzz_replay_${target} PROPERTIES LABELS unit TIMEOUT 600)
endforeach()
