package daemon

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// An open log stream (a handler that ends only when its close function is
// called, as the API's do) does not hold a restart: drain ends it before
// it waits. With the close function run only by Shutdown
// (RegisterOnShutdown), drain waits out the whole grace.
func TestDrainClosesStreamsFirst(t *testing.T) {
	streamsDone, closeStreams := context.WithCancel(context.Background())
	defer closeStreams()
	opened := make(chan struct{})
	s, _ := startDrainable(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "line\n")
		w.(http.Flusher).Flush()
		close(opened)
		select {
		case <-streamsDone.Done():
		case <-r.Context().Done():
		}
	}))
	s.closeStreams = closeStreams
	resp, err := http.Get("http://" + s.ln.Addr().String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-opened

	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	start := time.Now()
	if err := s.drain(ctx); err != nil {
		t.Errorf("drain: %v", err)
	}
	took := time.Since(start)
	t.Logf("drain with an open stream took %v (grace %v)", took.Round(time.Millisecond), shutdownGrace)
	if took > time.Second {
		t.Errorf("drain took %v with an open stream, want well under the %v grace", took, shutdownGrace)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "line\n" {
		t.Errorf("stream after the drain: %q, %v; want its line and a clean end", body, err)
	}
}
