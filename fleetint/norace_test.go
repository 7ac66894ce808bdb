//go:build !race

package fleetint

const raceEnabled = false
