#!/usr/bin/env bash
# Runs every Fuzz* target in the module for a short time each: scripts/fuzz.sh [duration]
# Targets are discovered from the *_test.go files on every run (no list to keep up to date); every target
# runs even when one fails, and the script fails at the end naming the ones that did.
set -uo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
found=0
failed=()
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    found=$((found + 1))
    echo "== $dir $target ($time)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "./$dir"; then
      failed+=("$dir $target")
    fi
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort)
if [ "$found" = 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
echo "== $found fuzz targets run, ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
