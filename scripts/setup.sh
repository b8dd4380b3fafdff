#!/usr/bin/env bash
# setup.sh installs the two native libraries spladeq links against, into .deps/
# inside the repository. It is idempotent: a second run checks what is there and
# does nothing else.
#
#   .deps/lib/libonnxruntime.so.1  from the npm package onnxruntime-node (pinned, sha256-checked)
#   .deps/lib/libtokenizers.a      built with cargo from the daulet/tokenizers Go module source,
#                                  at exactly the version go.mod requires
#
# Nothing is written outside the repository except the npm, cargo and Go caches.
set -euo pipefail

ORT_NPM_VERSION=1.30.0
ORT_SO_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_SO_PATH_IN_PACKAGE=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"
lib="$deps/lib"
build="$deps/build"
mkdir -p "$lib" "$build"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; $2"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) die "only linux/x86_64 is supported by this script (got $(uname -s)/$(uname -m)); set ONNXRUNTIME_LIB and CGO_LDFLAGS by hand" ;;
esac

# --- ONNX Runtime -----------------------------------------------------------
ort="$lib/libonnxruntime.so.1"
if [[ -f "$ort" && "$(sha256 "$ort")" == "$ORT_SO_SHA256" ]]; then
  log "onnxruntime $ORT_NPM_VERSION present"
else
  need npm "it ships the onnxruntime-node package that carries libonnxruntime.so.1"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  log "fetching onnxruntime-node@$ORT_NPM_VERSION with npm pack"
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_NPM_VERSION" >/dev/null) ||
    die "npm pack onnxruntime-node@$ORT_NPM_VERSION failed"
  tar -xzf "$tmp/onnxruntime-node-$ORT_NPM_VERSION.tgz" -C "$tmp" "$ORT_SO_PATH_IN_PACKAGE" ||
    die "onnxruntime-node-$ORT_NPM_VERSION.tgz has no $ORT_SO_PATH_IN_PACKAGE"
  got=$(sha256 "$tmp/$ORT_SO_PATH_IN_PACKAGE")
  [[ "$got" == "$ORT_SO_SHA256" ]] ||
    die "libonnxruntime.so.1 sha256 mismatch: got $got, want $ORT_SO_SHA256"
  install -m 0755 "$tmp/$ORT_SO_PATH_IN_PACKAGE" "$ort.tmp"
  mv "$ort.tmp" "$ort"
  log "installed $ort"
fi

# --- HuggingFace tokenizers (daulet/tokenizers) -----------------------------
need go "install Go 1.26"
tok_version=$(cd "$root" && go list -m -f '{{.Version}}' github.com/daulet/tokenizers) ||
  die "go.mod does not require github.com/daulet/tokenizers"
tok="$lib/libtokenizers.a"
stamp="$lib/libtokenizers.version"
if [[ -f "$tok" && -f "$stamp" && "$(cat "$stamp")" == "$tok_version" ]]; then
  log "libtokenizers $tok_version present"
else
  need cargo "it builds libtokenizers.a from the daulet/tokenizers source"
  src=$(cd "$root" && go mod download -json "github.com/daulet/tokenizers@$tok_version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$src" && -f "$src/Cargo.toml" ]] || die "could not find the source of github.com/daulet/tokenizers@$tok_version"
  crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/Cargo.toml" | head -n1)
  [[ "v$crate_version" == "$tok_version" ]] ||
    die "the Rust crate in daulet/tokenizers@$tok_version says version $crate_version; Go and Rust versions must match"
  dst="$build/tokenizers-$tok_version"
  rm -rf "$dst"
  cp -r "$src" "$dst"
  chmod -R u+w "$dst"
  log "building libtokenizers $tok_version with cargo (about a minute on 2 cores)"
  (cd "$dst" && cargo build --release --locked --quiet) || die "cargo build of libtokenizers $tok_version failed"
  install -m 0644 "$dst/target/release/libtokenizers.a" "$tok.tmp"
  mv "$tok.tmp" "$tok"
  echo "$tok_version" >"$stamp"
  rm -rf "$dst/target/release/build" "$dst/target/release/deps" "$dst/target/release/incremental"
  log "installed $tok"
fi
