#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks an HF folder exported by DuoScope from the SmolLM2 GGUF against HF transformers' own
GGUF loading of the same file: every weight tensor identical, and identical logits on a fixed
token sequence. This tests our GGUF reader, dequantisation, q/k un-permutation and HF writer end
to end against an independent implementation (the forward pass here is transformers').

    DUO_KEEP_EXPORT=/tmp/smollm2-hf build/tests/test_smollm2_load exportsHfCheckpoint
    python tests/reference/check_hf_export.py /tmp/smollm2-hf [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import os
import sys

import torch
from transformers import AutoModelForCausalLM

DEFAULT_GGUF = os.path.expanduser("~/.cache/duoscope/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    export = sys.argv[1]
    gguf_path = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_GGUF
    ours = AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32).eval()
    theirs = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path),
                                                  dtype=torch.float32).eval()
    sa, sb = ours.state_dict(), theirs.state_dict()
    assert sa.keys() == sb.keys(), set(sa.keys()) ^ set(sb.keys())
    worst = 0.0
    for k in sa:
        d = (sa[k].float() - sb[k].float()).abs().max().item() if sa[k].numel() else 0.0
        worst = max(worst, d)
    ids = torch.tensor([[1, 504, 3458, 282, 253, 1345, 30, 216, 10480, 28, 9, 2476, 314, 28, 4563]])
    with torch.no_grad():
        la = ours(ids).logits
        lb = theirs(ids).logits
    diff = (la - lb).abs().max().item()
    print(f"tensors: {len(sa)}, max |weight diff| = {worst:g}, max |logit diff| = {diff:g}, "
          f"logit range [{lb.min().item():.2f}, {lb.max().item():.2f}]")
    ok = worst == 0.0 and diff == 0.0
    print("OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
