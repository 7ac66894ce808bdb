package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/journal"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// LogReader reads instances' logs; *journal.Reader is one.
type LogReader interface {
	Read(ctx context.Context, q journal.Query) ([]journal.Entry, error)
	Follow(ctx context.Context, q journal.Query, send func(journal.Entry) error) error
}

var _ LogReader = (*journal.Reader)(nil)

// Log query bounds.
const (
	DefaultLogLines = 100
	MaxLogLines     = 10000
	maxPattern      = 1024
	// Streams: at most this many at once, and per caller.
	maxStreams          = 64
	maxStreamsPerCaller = 8
	keepAliveEvery      = 15 * time.Second
)

func (s *Server) logRoutes() {
	s.handle("GET /api/logs", s.logs)
	s.handle("GET /api/logs/stream", s.logStream)
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, id Identity) error {
	q, err := s.logQuery(r, id, DefaultLogLines)
	if err != nil {
		return err
	}
	entries, err := s.Logs.Read(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]apitype.LogEntry, len(entries))
	for i, e := range entries {
		out[i] = logEntryOut(e)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// logStream serves new log entries as server-sent events, one
// "data: <entry JSON>" event per entry, after the newest `lines` ones
// (default none). Comments keep the connection alive.
func (s *Server) logStream(w http.ResponseWriter, r *http.Request, id Identity) error {
	q, err := s.logQuery(r, id, 0)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	st, err := s.streams.open(id, cancel)
	if err != nil {
		return err
	}
	defer s.streams.close(st)
	// A token revoked after it was checked and before the stream was
	// registered has had its streams ended already: look again. (Revoking
	// deletes the token, then ends its streams; a stream registers, then
	// looks. Either way round, the stream ends.)
	if err := s.stillValid(id); err != nil {
		return err
	}
	stop := context.AfterFunc(s.streamsDone, func() { cancel(nil) })
	defer stop()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sse := &sseWriter{w: w, rc: http.NewResponseController(w)}
	if err := sse.comment("streaming"); err != nil {
		return nil
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sse.keepAlive(ctx, func() { cancel(nil) })
	}()
	err = s.Logs.Follow(ctx, q, sse.send)
	switch {
	case errors.Is(context.Cause(ctx), errRevoked):
		s.log.Info("log stream ended: its token was revoked", "actor", id.Actor)
		sse.event("error", apitype.ErrorResponse{Error: errRevoked.Error()})
	case err != nil && ctx.Err() == nil:
		s.log.Warn("log stream ended", "err", err)
		sse.event("error", apitype.ErrorResponse{Error: err.Error()})
	}
	cancel(nil)
	wg.Wait()  // nothing may write once the handler returns
	return nil // the status is sent; errors went into the stream
}

// logQuery builds the journal query of a request, scoped to what id may
// read. Parameters: instance=svc:id, or service (process) and/or id;
// lines (limit, n); grep (a regexp) or search (a literal); since.
func (s *Server) logQuery(r *http.Request, id Identity, defLines int) (journal.Query, error) {
	if s.Logs == nil {
		return journal.Query{}, errNotServed("logs")
	}
	insts, err := s.logInstances(r, id)
	if err != nil {
		return journal.Query{}, err
	}
	lines, err := intParam(r, defLines, "lines", "limit", "n")
	if err != nil {
		return journal.Query{}, err
	}
	q := journal.Query{Instances: insts, Lines: min(lines, MaxLogLines)}
	pattern := param(r, "grep")
	if lit := param(r, "search"); pattern == "" && lit != "" {
		pattern = regexp.QuoteMeta(lit)
	}
	if len(pattern) > maxPattern {
		return q, fmt.Errorf("%w: grep pattern longer than %d bytes", errdefs.ErrInvalid, maxPattern)
	}
	if pattern != "" {
		if q.Grep, err = regexp.Compile(pattern); err != nil {
			return q, fmt.Errorf("%w: grep: %w", errdefs.ErrInvalid, err)
		}
	}
	if q.Since, err = apitype.ParseSince(param(r, "since"), time.Now()); err != nil {
		return q, err
	}
	return q, nil
}

// logInstances returns the instances whose logs a request asks for and id
// may read. Asking for another tenant's instance is 404, as everywhere.
func (s *Server) logInstances(r *http.Request, id Identity) ([]names.Instance, error) {
	if v := param(r, "instance"); v != "" {
		n, err := names.Parse(v)
		if err != nil {
			return nil, err
		}
		return []names.Instance{n}, id.requireRead(n)
	}
	svc, iid := param(r, "service", "process"), param(r, "id")
	if svc != "" && iid != "" {
		n, err := names.New(svc, iid)
		if err != nil {
			return nil, err
		}
		return []names.Instance{n}, id.requireRead(n)
	}
	if svc != "" {
		if err := names.ValidateService(svc); err != nil {
			return nil, err
		}
		if s.sup.ServiceConfig(svc) == nil {
			return nil, fmt.Errorf("%w: service %q is not configured", errdefs.ErrNotFound, svc)
		}
	}
	if iid != "" {
		if err := names.ValidateID(iid); err != nil {
			return nil, err
		}
		if !id.Admin && iid != id.Tenant {
			return nil, fmt.Errorf("%w: instances with id %q", errdefs.ErrNotFound, iid)
		}
	}
	var out []names.Instance
	if !id.Admin {
		for _, n := range s.tenantInstances(id) {
			if svc == "" || n.Service == svc {
				out = append(out, n)
			}
		}
		return out, nil
	}
	all, _ := s.sup.List(supervisor.ListOptions{})
	for _, i := range all {
		n := i.Instance
		if (svc == "" || n.Service == svc) && (iid == "" || n.ID == iid) {
			out = append(out, n)
		}
	}
	return out, nil
}

// sseWriter writes server-sent events; its methods may be called from the
// follower and the keep-alive goroutine at once.
type sseWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *sseWriter) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseWriter) send(e journal.Entry) error { return s.event("", logEntryOut(e)) }

func (s *sseWriter) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var msg []byte
	if name != "" {
		msg = append(msg, "event: "+name+"\n"...)
	}
	msg = append(msg, "data: "...)
	msg = append(append(msg, b...), "\n\n"...)
	return s.write(msg)
}

func (s *sseWriter) comment(c string) error { return s.write([]byte(": " + c + "\n\n")) }

// keepAlive writes a comment now and then until ctx ends; a failed write
// (the client left) cancels the stream.
func (s *sseWriter) keepAlive(ctx context.Context, cancel func()) {
	t := time.NewTicker(keepAliveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.comment("keep-alive") != nil {
				cancel()
				return
			}
		}
	}
}
