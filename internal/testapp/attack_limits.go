package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Exhausting the tenant's own limits, to starve its neighbours: a fork
// bomb that must stop at the unit's TasksMax and a memory bomb that must
// stop at its MemoryMax (integration/hostile_limits_test.go measures the
// neighbour meanwhile). Parameters, besides "for":
//
//	max   children the fork bomb stops trying at (default 10000)
//	busy  1: the fork bomb's children spin on the CPU, as a real bomb's
//	      do, rather than sleep
//	mb    MiB the memory bomb asks for (default 1024)

// memoryBombEnv makes the test app a memory bomb's child: it allocates
// that many MiB, touching every page, and prints its running total in
// MiB on stdout after each one. The bomb runs in a child so that the app
// can report how it was stopped: the kernel's memory killer takes the
// biggest process of the cgroup, the child (at the sandbox level, gVisor's
// sentry holds all the app's memory, so the whole sandbox goes).
const memoryBombEnv = "TESTAPP_MEMORY_BOMB_MB"

func init() {
	if mb := os.Getenv(memoryBombEnv); mb != "" {
		memoryBombChild(mb) // never returns
	}
	register("fork-bomb", forkBomb)
	register("memory-bomb", memoryBomb)
}

// forkBomb starts children until fork fails, then keeps forking for "for"
// (the pressure a real bomb keeps up at its limit), then kills them all.
// It is blocked when fork failed before "max" children.
func forkBomb(q map[string][]string) (bool, string) {
	limit := bombInt(q, "max", 10000)
	hold := bombDuration(q, "for", 0)
	spareThreads(8)
	var kids []*exec.Cmd
	defer func() {
		for _, k := range kids {
			k.Process.Kill()
			k.Wait()
		}
	}()
	child := []string{"/bin/sleep", "3600"}
	if bombInt(q, "busy", 0) == 1 {
		child = []string{"/bin/sh", "-c", "while :; do :; done"}
	}
	start := func() error {
		k := exec.Command(child[0], child[1:]...)
		if err := k.Start(); err != nil {
			return err
		}
		kids = append(kids, k)
		return nil
	}
	var stop error
	for len(kids) < limit && stop == nil {
		stop = start()
	}
	if stop == nil {
		return false, fmt.Sprintf("started %d children and nothing stopped them", len(kids))
	}
	stopped := len(kids)
	refused := 0
	t0 := time.Now()
	for time.Since(t0) < hold {
		if start() != nil {
			refused++
		}
	}
	return true, fmt.Sprintf("stopped after %d children: %v; then %d forks refused and %d allowed in %v",
		stopped, stop, refused, len(kids)-stopped, hold)
}

// spareThreads makes the Go runtime start n threads now, which it then
// keeps idle for later: at TasksMax no thread can be started, and a Go
// program that needs one dies ("failed to create new OS thread"), taking
// the bomb's report with it.
func spareThreads(n int) {
	var locked, release sync.WaitGroup
	locked.Add(n)
	release.Add(1)
	for range n {
		go func() {
			runtime.LockOSThread() // a goroutine blocked on its own thread keeps it
			locked.Done()
			release.Wait()
			runtime.UnlockOSThread()
		}()
	}
	locked.Wait()
	release.Done()
}

// memoryBomb runs memory bomb children one after the other for "for" (at
// least one), each asking for "mb" MiB. It is blocked when every child was
// stopped short of it.
func memoryBomb(q map[string][]string) (bool, string) {
	mb := bombInt(q, "mb", 1024)
	hold := bombDuration(q, "for", 0)
	self, err := os.Executable()
	if err != nil {
		return false, "no executable to run the bomb: " + err.Error()
	}
	ends := map[string][]int{} // how a child ended: the MiB each held
	rounds := 0
	for t0 := time.Now(); rounds == 0 || time.Since(t0) < hold; rounds++ {
		got, how, err := memoryBombRound(self, mb)
		if err != nil {
			return false, fmt.Sprintf("round %d: the bomb did not start: %v", rounds+1, err)
		}
		if got >= mb {
			return false, fmt.Sprintf("round %d: allocated all %d MiB asked for", rounds+1, mb)
		}
		ends[how] = append(ends[how], got)
	}
	var out []string
	for how, got := range ends {
		out = append(out, fmt.Sprintf("%d %s at %d–%d MiB", len(got), how, slices.Min(got), slices.Max(got)))
	}
	sort.Strings(out)
	return true, fmt.Sprintf("%d rounds asking %d MiB each, all stopped short: %s", rounds, mb, strings.Join(out, ", "))
}

// memoryBombRound runs one child and returns how many MiB it held and how
// it ended.
func memoryBombRound(self string, mb int) (int, string, error) {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), memoryBombEnv+"="+strconv.Itoa(mb))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, "", err
	}
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	got := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		got, _ = strconv.Atoi(sc.Text())
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		return got, "killed by signal " + strconv.Itoa(int(ws.Signal())), nil
	case err != nil:
		return got, fmt.Sprintf("%v: %s", err, bombFirstLine(stderr.String())), nil
	}
	return got, "exited", nil
}

// memoryBombChild allocates mb MiB and touches it, and exits.
func memoryBombChild(mb string) {
	n, _ := strconv.Atoi(mb)
	w := bufio.NewWriter(os.Stdout)
	for i := 1; i <= n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		hoard = append(hoard, b)
		fmt.Fprintln(w, i)
		w.Flush()
	}
	os.Exit(0)
}

func bombInt(q map[string][]string, name string, def int) int {
	if v := q[name]; len(v) > 0 {
		if n, err := strconv.Atoi(v[0]); err == nil {
			return n
		}
	}
	return def
}

func bombDuration(q map[string][]string, name string, def time.Duration) time.Duration {
	if v := q[name]; len(v) > 0 {
		if d, err := time.ParseDuration(v[0]); err == nil {
			return d
		}
	}
	return def
}

// bombFirstLine is the first line of a child's stderr: Go's "fatal error:
// out of memory" comes before its stacks.
func bombFirstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
