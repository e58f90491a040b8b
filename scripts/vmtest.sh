#!/usr/bin/env bash
# Runs the tests of Go packages inside a QEMU VM whose kernel has ESP (internal/vmtest):
#   scripts/vmtest.sh [flags] [--] ./sip/ipsec [./more/pkg ...] [-- test binary flags]
# e.g. scripts/vmtest.sh -run 'TestESPTraffic/ipv6' ./sip/ipsec
# Exit status: 0 passed, 1 tests failed, 2 usage or setup error, 3 no result line from the VM.
# The tool is built rather than "go run", which would turn every failure status into 1.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/vmtest" ./internal/vmtest/cmd/vmtest
status=0
"$tmp/vmtest" "$@" || status=$?
exit "$status"
