// Package e2e runs imscore's real binaries as processes on loopback and drives them with real SIP peers
// (SIPp) — docs/design.md §6 "End to end" and "Real peers".
//
// The harness builds each cmd/ binary once per test binary run (Builder), starts nodes as processes on free
// loopback ports with their own temporary directory (Process), waits until they are ready (/readyz or an open
// port), copies their logs into the test log when a test fails, and stops them with SIGTERM, failing the test
// if a node does not exit cleanly. SIPp scenarios live in sipp/*.xml; RunSIPp runs one with bounded time.
//
// Tests that need a binary that is not installed (sipp, PostgreSQL) skip with the reason, unless the
// environment variable CI is "true": then they fail, since CI installs everything.
package e2e
