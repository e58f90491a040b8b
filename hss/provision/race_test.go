//go:build race

package provision

// raceEnabled: the race detector instruments the pure-Go SQLite too, which makes it some 40 times
// slower; tests that load many subscribers into SQLite load fewer under -race.
const raceEnabled = true
