#!/usr/bin/env bash
# Starts the whole core on loopback with the embedded store under ./var (make run builds first).
# Arguments go to imsrun: scripts/run.sh --hss-arg=--log-level=debug
set -euo pipefail
cd "$(dirname "$0")/.."
for b in imsrun hss icscf scscf pcscf presence; do
  [ -x "bin/$b" ] || { echo "imscore: bin/$b is missing: run 'make build' (or 'make run')" >&2; exit 1; }
done
exec bin/imsrun --bin bin "$@"
