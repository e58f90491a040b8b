#!/usr/bin/env bash
# Runs every Fuzz* target in the module for a short time each: scripts/fuzz.sh [duration]
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
found=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    found=1
    echo "== $dir $target ($time)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "./$dir"
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | sort)
[ "$found" = 1 ] || echo "no fuzz targets found"
