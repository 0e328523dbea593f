//go:build !race

package filter

// raceEnabled is true when the tests run with -race.
const raceEnabled = false
