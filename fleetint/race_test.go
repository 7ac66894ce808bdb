//go:build race

package fleetint

const raceEnabled = true
