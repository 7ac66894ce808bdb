//go:build !linux

package fleetops

// syscallNoFollow is 0 where O_NOFOLLOW is not known; the os.Root still
// keeps every open inside the data dir.
const syscallNoFollow = 0
