#!/usr/bin/env bash
# s3server.sh builds the S3-compatible server that the s3 source's tests
# start (internal/s3test): versitygw (Apache-2.0), a gateway that serves a
# local directory as S3 buckets, from its Go module at a pinned version
# (checked against its go.sum hash) into .deps/s3server/. A test tool, never
# part of the build or of spladeq's binary. Idempotent: a second run finds
# the binary and its version stamp and does nothing.
#
#   .deps/s3server/versitygw          the server
#   .deps/s3server/versitygw.version  the version it was built from
#
# Why versitygw: built here from cold caches it took 266 s of CPU (19 min
# wall at load 25 on 2 cores) for a 61 MB binary and starts in well under a
# second as one process; BENCHMARKS.md ("Object storage and Parquet") has the figures of
# the other candidates.
set -euo pipefail

MODULE=github.com/versity/versitygw
VERSION=v1.8.0
SUM=h1:au+wI+aybno/STsQiSm35Uu6Q6iK5MWReQxgO6SEMFc=

root=$(cd "$(dirname "$0")/.." && pwd)
dst="$root/.deps/s3server"
bin="$dst/versitygw"
stamp="$dst/versitygw.version"

log() { printf 's3server: %s\n' "$*" >&2; }
die() { printf 's3server: error: %s\n' "$*" >&2; exit 1; }

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$VERSION" ]]; then
  log "versitygw $VERSION present"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "go is not installed; install Go 1.26"
mkdir -p "$dst"
info=$(cd "$dst" && GOFLAGS= go mod download -json "$MODULE@$VERSION") ||
  die "go mod download $MODULE@$VERSION failed"
got=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$info")
[[ "$got" == "$SUM" ]] || die "$MODULE@$VERSION has hash $got, want $SUM"
log "building versitygw $VERSION from its Go module (about 5 minutes of CPU from a cold build cache)"
start=$SECONDS
(cd "$dst" && GOFLAGS= GOBIN="$dst" go install -trimpath -ldflags='-s -w' "$MODULE/cmd/versitygw@$VERSION") ||
  die "go install $MODULE/cmd/versitygw@$VERSION failed"
echo "$VERSION" >"$stamp"
log "installed $bin ($(( $(stat -c %s "$bin") / 1048576 )) MB) in $(( SECONDS - start )) s"
