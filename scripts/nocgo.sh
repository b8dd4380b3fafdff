#!/usr/bin/env bash
# nocgo.sh BAD PKG...: fails when the client side (PKG..., and the
# langchaingo module's HTTP store) links a non-standard package with cgo
# files or a package matching the regexp BAD (the engine). Every `go list`
# must succeed: a listing that fails would otherwise read as "nothing bad".
set -euo pipefail
cd "$(dirname "$0")/.."
go=${GO:-go}
bad_re=$1; shift
cgo_tmpl='{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}'
found=()
check() { # dir pkgs...
  local dir=$1; shift
  local cgo deps
  cgo=$(cd "$dir" && "$go" list -deps -f "$cgo_tmpl" "$@") || { echo "nocgo: go list -deps $* (in $dir) failed" >&2; exit 1; }
  deps=$(cd "$dir" && "$go" list -deps "$@") || { echo "nocgo: go list -deps $* (in $dir) failed" >&2; exit 1; }
  [[ -z "$deps" ]] && { echo "nocgo: go list -deps $* (in $dir) listed nothing" >&2; exit 1; }
  while IFS= read -r p; do [[ -n "$p" ]] && found+=("$p"); done <<<"$cgo"
  while IFS= read -r p; do [[ -n "$p" ]] && found+=("$p"); done < <(grep -E "$bad_re" <<<"$deps" || true)
}
check . "$@"
check integrations/langchaingo .
if (( ${#found[@]} )); then
  echo "nocgo: the client side links cgo or the engine:"
  printf '%s\n' "${found[@]}"
  exit 1
fi
echo "nocgo: client, api and the langchaingo HTTP store build with CGO_ENABLED=0 and link no cgo package"
