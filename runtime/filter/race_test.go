//go:build race

package filter

// raceEnabled is true when the tests run with -race, which adds
// allocations (sync.Pool drops items at random).
const raceEnabled = true
