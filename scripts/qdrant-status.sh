#!/usr/bin/env bash
# Says, before the tests run, which real Qdrant the tests will use: the one
# QDRANT_URL names, and the binaries of the releases they start
# (internal/qdranttest.Versions): 1.17.1 at $QDRANT_BIN, else
# ../shared/qdrant/bin/qdrant; 1.19.0 at $QDRANT_BIN_1_19, else
# ../shared/qdrant/v1.19.0/bin/qdrant. A release with no binary has its
# real-Qdrant runs skipped (the embedded server's still run), or failed
# when CI is set.
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$(dirname "$root")/shared/qdrant
if [[ -n "${QDRANT_URL:-}" ]]; then
  echo "test: real Qdrant at QDRANT_URL=$QDRANT_URL (conformance suite)"
fi
for spec in "1.17.1 QDRANT_BIN $shared/bin/qdrant" "1.19.0 QDRANT_BIN_1_19 $shared/v1.19.0/bin/qdrant"; do
  read -r version var default <<<"$spec"
  bin=${!var:-$default}
  if [[ -x "$bin" ]]; then
    have=$("$bin" --version 2>/dev/null | head -n1)
    if [[ "$have" == "qdrant $version" ]]; then
      echo "test: Qdrant $version from $bin: started by the tests on loopback"
    else
      echo "test: $bin says \"$have\", not qdrant $version: the Qdrant $version tests will FAIL (set $var to a $version binary)"
    fi
  elif [[ -n "${!var:-}" ]]; then
    echo "test: $var=$bin is not an executable file: the Qdrant $version tests will FAIL"
  else
    if [[ -n "${CI:-}" ]]; then
      echo "test: no Qdrant $version binary (set $var, or put one at $default): CI is set, its real-Qdrant tests will FAIL"
    else
      echo "test: no Qdrant $version binary (set $var, or put one at $default): its real-Qdrant tests are SKIPPED"
    fi
  fi
done
