package fleetops

import "syscall"

// syscallNoFollow makes an open fail on a symbolic link: a data file is
// opened as itself, never through a link.
const syscallNoFollow = syscall.O_NOFOLLOW
