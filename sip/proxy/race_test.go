//go:build race

package proxy

// raceEnabled: the race detector changes allocation counts; budgets are checked without it.
const raceEnabled = true
