// SPDX-License-Identifier: GPL-3.0-or-later
// DUO_CLONES before a function: GCC builds it twice, for AVX2 and for baseline x86-64, and the
// loader picks by the CPU (target_clones), so hot element-wise loops (the decode engine's, the topk
// rule's counting passes) run 8 lanes wide in the portable build. Elsewhere (other compilers, other CPUs) it is nothing.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DUO_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DUO_CLONES
#endif
