#!/usr/bin/env bash
# pytools.sh installs the Python test tools into .deps/venv: the official
# qdrant-client the integration tests drive, numpy, onnx and tokenizers
# for tools/genmodel/convert.py, the Python conversion the Go-built graphs
# of the real models are checked against (integration/realconvert_test.go),
# and pyarrow, the independent writer of the Parquet files the parquet and
# s3 sources are tested on (internal/pyarrowtest). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.deps/venv"
req="$root/integration/testdata/requirements.txt"
genreq="$root/tools/genmodel/requirements.txt"
want=$(sed -n 's/^qdrant-client==//p' "$req")
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("qdrant-client"))' 2>/dev/null || true)
if [[ "$have" == "$want" ]]; then
  echo "pytools: qdrant-client $want present" >&2
else
  echo "pytools: installing qdrant-client $want into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" ||
    { echo "pytools: error: pip install -r $req failed" >&2; exit 1; }
fi
if ! "$venv/bin/python" -c 'import numpy, onnx, tokenizers' 2>/dev/null; then
  echo "pytools: installing $genreq into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$genreq" ||
    { echo "pytools: error: pip install -r $genreq failed" >&2; exit 1; }
fi
pqreq="$root/internal/pyarrowtest/requirements.txt"
pqwant=$(sed -n 's/^pyarrow==//p' "$pqreq")
pqhave=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pyarrow"))' 2>/dev/null || true)
if [[ "$pqhave" == "$pqwant" ]]; then
  echo "pytools: pyarrow $pqwant present" >&2
else
  echo "pytools: installing pyarrow $pqwant into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$pqreq" ||
    { echo "pytools: error: pip install -r $pqreq failed" >&2; exit 1; }
fi
