package main

import (
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
)

// The hostile tenant. GET /attacks?victim_port=…&path=…&… makes this
// instance ("mallory") try every attack registered below against another
// tenant and the host, and answers one JSON report: for each attack whether
// it was blocked and what happened. GET /attack/NAME?… runs one. The tests
// assert that every attempt fails, at each isolation level
// (integration/hostile_test.go).
//
// An attack reads what it needs from the query:
//
//	victim        the victim's instance, "service:id"
//	victim_port   the victim's port on 127.0.0.1
//	victim_unit   the victim's unit, tenement@service-id.service
//	path          a file to read (repeatable): config, store, data dir, …
//	api           the API socket's path
//	credential    the victim's credential file
//	for           how long a looping attack goes on (a Go duration)

// attack is one attempt. blocked is true when it failed, as it must.
type attack func(q map[string][]string) (blocked bool, detail string)

var (
	attacksMu sync.Mutex
	attacks   = map[string]attack{}
)

// register adds an attack; each attack file registers its own in init.
func register(name string, a attack) {
	attacksMu.Lock()
	defer attacksMu.Unlock()
	if _, dup := attacks[name]; dup {
		panic("attack registered twice: " + name)
	}
	attacks[name] = a
}

// report is one attack's outcome.
type report struct {
	Attack  string `json:"attack"`
	Blocked bool   `json:"blocked"`
	Detail  string `json:"detail"`
}

func runAttacks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	attacksMu.Lock()
	list := make([]string, 0, len(attacks))
	for name := range attacks {
		list = append(list, name)
	}
	attacksMu.Unlock()
	sort.Strings(list)
	out := make([]report, 0, len(list))
	for _, name := range list {
		out = append(out, runAttack(name, q))
	}
	writeJSON(w, out)
}

func runOneAttack(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/attack/")
	attacksMu.Lock()
	_, ok := attacks[name]
	attacksMu.Unlock()
	if !ok {
		http.Error(w, "no attack "+name, http.StatusNotFound)
		return
	}
	writeJSON(w, runAttack(name, r.URL.Query()))
}

func runAttack(name string, q map[string][]string) report {
	attacksMu.Lock()
	a := attacks[name]
	attacksMu.Unlock()
	blocked, detail := a(q)
	log("attack %s: blocked=%v %s", name, blocked, detail)
	return report{Attack: name, Blocked: blocked, Detail: detail}
}

func init() {
	// Reading what belongs to the host or to another tenant: every path
	// the test names.
	register("read-files", func(q map[string][]string) (bool, string) {
		var read []string
		for _, p := range q["path"] {
			if _, err := os.ReadFile(p); err == nil {
				read = append(read, p)
			} else if _, err := os.ReadDir(p); err == nil {
				read = append(read, p+"/")
			}
		}
		if len(read) > 0 {
			return false, "read " + strings.Join(read, ", ")
		}
		return true, "read none of " + strings.Join(q["path"], ", ")
	})
}
