#!/usr/bin/env bash
# check-large-files.sh fails when git tracks a file over 1 MB outside a
# testdata/ directory, unless .ci/large-files.txt names it (one path a line,
# '#' comments). Generated output (profiler dumps, benchmark scratch, test
# binaries) is never committed; a deliberate large file is listed there with
# the reason beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((1000 * 1000))
allow=.ci/large-files.txt
bad=()
while IFS= read -r -d '' f; do
  [[ -f "$f" ]] || continue
  case "/$f" in */testdata/*) continue ;; esac
  size=$(stat -c %s "$f")
  (( size > limit )) || continue
  if [[ -f "$allow" ]] && sed 's/#.*//' "$allow" | grep -qxF -- "$f"; then continue; fi
  bad+=("$f ($size bytes)")
done < <(git ls-files -z)
if (( ${#bad[@]} )); then
  printf 'check-large-files: tracked files over 1 MB outside testdata/, not named in %s:\n' "$allow" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-large-files: no tracked file over 1 MB outside testdata/" >&2
