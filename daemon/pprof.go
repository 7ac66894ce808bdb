package daemon

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// EnvPprof, when set to a loopback host:port, makes `ten serve` serve Go's
// profiler (net/http/pprof, /debug/pprof/) there. It is meant for
// benchmarks and debugging (bench/run sets it with PROFILE=1); it is off
// by default and refuses addresses that are not loopback.
const EnvPprof = "TENEMENT_PPROF"

// servePprof serves the profiler when EnvPprof asks for it.
func servePprof(log *slog.Logger) {
	addr := os.Getenv(EnvPprof)
	if addr == "" {
		return
	}
	log = log.With("component", "pprof")
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Error("not serving the profiler: want a loopback host:port", EnvPprof, addr)
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("not serving the profiler", "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving the profiler", "addr", ln.Addr().String())
	go func() { _ = srv.Serve(ln) }()
}
