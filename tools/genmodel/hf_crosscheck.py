#!/usr/bin/env python3
"""Cross-check hfref.py's references with transformers itself (optional; not run by make test).

Loads each model directory with transformers' AutoModelForMaskedLM (local files
only), runs the reference texts in float64 as one padded batch per mode with the
attention mask, pools them SPLADE-style over the non-padding tokens, and prints
the largest difference from DIR/reference.json, plus the loading report
(missing / unexpected tensors). Needs torch and transformers, which the project
does not install:

  python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch transformers==4.46.3 tokenizers
  /tmp/tv/bin/python tools/genmodel/hf_crosscheck.py splade/testdata/models/hf-*
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForMaskedLM


def main():
    bad = 0
    for d in sys.argv[1:]:
        ref = json.load(open(os.path.join(d, "reference.json")))
        model, info = AutoModelForMaskedLM.from_pretrained(d, torch_dtype=torch.float32, output_loading_info=True,
                                                           local_files_only=True)
        model = model.double().eval()
        pad = model.config.pad_token_id
        worst = 0.0
        for mode, m in next(iter(ref["models"].values())).items():
            rows = m["token_ids"]
            n = max(len(r) for r in rows)
            ids = torch.full((len(rows), n), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for b, r in enumerate(rows):
                ids[b, :len(r)] = torch.tensor(r)
                mask[b, :len(r)] = 1
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask).logits.numpy()
            for b, want in enumerate(m["vectors"]):
                got = np.log1p(np.maximum(logits[b][mask[b].numpy() > 0], 0)).max(0)
                dense = np.zeros_like(got)
                dense[want["indices"]] = want["values"]
                worst = max(worst, float(np.abs(got - dense).max()))
        loading = {k: v for k, v in info.items() if v}
        print(f"{d}: {type(model).__name__}, max |difference| {worst:.3g}, loading report {loading or 'clean'}")
        bad += worst > 1e-6
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
