#!/usr/bin/env bash
# Says, before the tests run, which real Qdrant the tests will use: the one
# QDRANT_URL names, a binary they start ($QDRANT_BIN, else
# ../shared/qdrant/bin/qdrant beside the repository), or none, in which case
# the real-Qdrant runs are skipped (the embedded server's still run).
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${QDRANT_BIN:-$(dirname "$root")/shared/qdrant/bin/qdrant}
if [[ -n "${QDRANT_URL:-}" ]]; then
  echo "test: real Qdrant at QDRANT_URL=$QDRANT_URL (conformance suite); tests that start their own servers use $bin if present"
elif [[ -x "$bin" ]]; then
  echo "test: real Qdrant from $bin ($("$bin" --version 2>/dev/null | head -n1)): started by the tests on loopback"
else
  echo "test: no Qdrant binary (set QDRANT_BIN, or QDRANT_URL for a running server): real-Qdrant tests are SKIPPED, the embedded server's still run"
fi
