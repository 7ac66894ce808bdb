// Command testapp is the tenant that tenement's integration tests and
// benchmarks run. It is a small static HTTP server whose behaviour the tests
// steer through its environment and endpoints.
//
// It listens on the socket systemd passed (LISTEN_FDS) or on 127.0.0.1:$PORT.
//
// Environment: CRASH_AT_START=1 (or a file "crash" in $DATA_DIR) exits 1 at
// once; READY_DELAY=dur waits
// before listening; NOTIFY=1 sends READY=1 to $NOTIFY_SOCKET once listening;
// HEALTH=fail makes /health answer 500 (so does a file "unhealthy" in
// $DATA_DIR).
//
// Endpoints: / (who am I), /health, /headers, /env, /crash, /exit,
// /fork (starts a child that sleeps), /sleep?d=dur, /sse?n=N&every=dur,
// /ws (a raw WebSocket-style upgrade that echoes lines), /write?name=&value=,
// /read?name=, /whoami (uid, pid, /proc pids, kernel release), /alloc?mb=N,
// /forkbomb, /log?msg= (a line on stdout), /connect?addr= (dial a TCP addr),
// /attacks and /attack/NAME (the hostile tenant: attack.go).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	log("testapp starting pid=%d service=%s id=%s", os.Getpid(), os.Getenv("TENEMENT_SERVICE"), os.Getenv("TENEMENT_ID"))
	if os.Getenv("CRASH_AT_START") == "1" || exists(filepath.Join(os.Getenv("DATA_DIR"), "crash")) {
		log("crashing at start as asked")
		os.Exit(1)
	}
	if d, err := time.ParseDuration(os.Getenv("READY_DELAY")); err == nil {
		time.Sleep(d)
	}
	ln, err := listener()
	if err != nil {
		log("listen: %v", err)
		os.Exit(2)
	}
	if os.Getenv("NOTIFY") == "1" {
		if err := notify("READY=1\nSTATUS=serving"); err != nil {
			log("notify: %v", err)
		}
	}
	log("testapp listening on %s", ln.Addr())
	srv := &http.Server{Handler: routes(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		log("serve: %v", err)
		os.Exit(3)
	}
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// listener returns the socket systemd passed, else listens on $PORT.
func listener() (net.Listener, error) {
	if os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") != "" {
		f := os.NewFile(3, "listen")
		defer f.Close()
		return net.FileListener(f)
	}
	return net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
}

func notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return fmt.Errorf("no NOTIFY_SOCKET")
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s:%s pid=%d\n", os.Getenv("TENEMENT_SERVICE"), os.Getenv("TENEMENT_ID"), os.Getpid())
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("HEALTH") == "fail" || exists(filepath.Join(os.Getenv("DATA_DIR"), "unhealthy")) {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		h := map[string]any{"host": r.Host, "headers": r.Header, "remote": r.RemoteAddr}
		writeJSON(w, h)
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := os.Environ()
		sort.Strings(env)
		fmt.Fprintln(w, strings.Join(env, "\n"))
	})
	mux.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
		log("crashing as asked")
		os.Exit(1)
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		log("exiting cleanly as asked")
		os.Exit(0)
	})
	mux.HandleFunc("/fork", func(w http.ResponseWriter, r *http.Request) {
		cmd := exec.Command("/bin/sleep", "3600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // try to escape the process group
		if err := cmd.Start(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d\n", cmd.Process.Pid)
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		fmt.Fprintln(w, "slept", d)
	})
	mux.HandleFunc("/sse", sse)
	mux.HandleFunc("/ws", upgrade)
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		path := filepath.Join(os.Getenv("DATA_DIR"), filepath.Base(q.Get("name")))
		if err := os.WriteFile(path, []byte(q.Get("value")), 0o600); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintln(w, "wrote", path)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Query().Get("path")
		if path == "" {
			path = filepath.Join(os.Getenv("DATA_DIR"), filepath.Base(r.URL.Query().Get("name")))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/try-write", func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Query().Get("path")
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "wrote", path)
	})
	mux.HandleFunc("/whoami", whoami)
	mux.HandleFunc("/attacks", runAttacks)
	mux.HandleFunc("/attack/", runOneAttack)
	mux.HandleFunc("/alloc", alloc)
	mux.HandleFunc("/forkbomb", forkbomb)
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		log("%s", r.URL.Query().Get("msg"))
		fmt.Fprintln(w, "logged")
	})
	mux.HandleFunc("/connect", func(w http.ResponseWriter, r *http.Request) {
		c, err := net.DialTimeout("tcp", r.URL.Query().Get("addr"), 2*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c.Close()
		fmt.Fprintln(w, "connected")
	})
	mux.HandleFunc("/interfaces", func(w http.ResponseWriter, r *http.Request) {
		ifs, _ := net.Interfaces()
		var out []string
		for _, i := range ifs {
			out = append(out, i.Name)
		}
		fmt.Fprintln(w, strings.Join(out, " "))
	})
	return mux
}

func sse(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	every, err := time.ParseDuration(r.URL.Query().Get("every"))
	if err != nil {
		every = time.Second
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	for i := 0; n <= 0 || i < n; i++ {
		if _, err := fmt.Fprintf(w, "data: tick %d\n\n", i); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(every):
		}
	}
}

// upgrade answers an "Upgrade: echo" (or websocket) request with 101 and
// then echoes every line until the client closes.
func upgrade(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Connection"), "upgrade") || r.Header.Get("Upgrade") == "" {
		http.Error(w, "want an upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", r.Header.Get("Upgrade"))
	brw.Flush()
	sc := bufio.NewScanner(brw)
	for sc.Scan() {
		fmt.Fprintf(brw, "echo: %s\n", sc.Text())
		brw.Flush()
	}
}

func whoami(w http.ResponseWriter, r *http.Request) {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, n)
		}
	}
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	release := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		release = append(release, byte(c))
	}
	tmp, _ := os.ReadDir("/tmp")
	var tmpNames []string
	for _, e := range tmp {
		tmpNames = append(tmpNames, e.Name())
	}
	writeJSON(w, map[string]any{
		"uid": os.Getuid(), "gid": os.Getgid(), "pid": os.Getpid(), "ppid": os.Getppid(),
		"proc_pids": pids, "kernel": string(release), "data_dir": os.Getenv("DATA_DIR"),
		"tmp": tmpNames,
	})
}

// alloc allocates and touches mb MiB and keeps it.
var hoard [][]byte

func alloc(w http.ResponseWriter, r *http.Request) {
	mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
	for i := 0; i < mb; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		hoard = append(hoard, b)
	}
	fmt.Fprintf(w, "allocated %d MiB\n", mb)
}

// forkbomb starts sleeping children until fork fails, and reports how many.
func forkbomb(w http.ResponseWriter, r *http.Request) {
	n := 0
	for ; n < 100000; n++ {
		cmd := exec.Command("/bin/sleep", "3600")
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(w, "stopped after %d children: %v\n", n, err)
			return
		}
	}
	fmt.Fprintf(w, "started %d children\n", n)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
