//go:build !race

package photo

// raceEnabled: the race detector is on, which changes what some
// allocations weigh (see TestCostMatchesAllocation).
const raceEnabled = false
