#!/usr/bin/env bash
# Starts the whole core on loopback. Binaries that are not built yet are reported, not faked.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for b in hss icscf scscf pcscf; do [ -x "bin/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "imscore: not built yet: ${missing[*]} (see the open issues); nothing to run." >&2
  exit 0
fi
exec bin/imsrun
