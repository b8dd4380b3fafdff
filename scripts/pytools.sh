#!/usr/bin/env bash
# pytools.sh installs the Python test tools (the official qdrant-client) into
# .deps/venv, the virtualenv scripts/models.sh creates. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.deps/venv"
req="$root/integration/testdata/requirements.txt"
want=$(sed -n 's/^qdrant-client==//p' "$req")
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("qdrant-client"))' 2>/dev/null || true)
if [[ "$have" == "$want" ]]; then
  echo "pytools: qdrant-client $want present" >&2
  exit 0
fi
echo "pytools: installing qdrant-client $want into $venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" ||
  { echo "pytools: error: pip install -r $req failed" >&2; exit 1; }
