// Package api is tenement's management API: JSON over HTTP, served on the
// local unix socket (root and the tenement group are admins, by their peer
// credentials) and on the root domain of the HTTP listener (bearer tokens).
//
// It is transport only: a handler parses the request (the wire types are
// package apitype's), checks that the caller may ask it (identity.go), asks
// the instances' owner, the supervisor, behind small interfaces
// (Instances: Reader, Lifecycle, Router), records the change in the audit
// log, and maps the answer back (wire.go). The decisions (a deploy's health
// wait, a route's checks) are the supervisor's.
//
// Every handler returns an error of an errdefs kind; writeError maps it to
// a status code in one place, with a body {"error": "..."}.
package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Group is the group whose members are admins on the local socket.
const Group = "tenement"

// Server serves the API.
type Server struct {
	sup Instances
	log *slog.Logger
	mux *http.ServeMux
	// group is the group whose members are admins on the local socket:
	// Group.
	group string
	// patterns are the routes handle registered.
	patterns []string
	// Auditor, if set, records every change.
	Auditor Auditor
	// Authenticate resolves the identity of a request that did not come
	// over the local socket; nil rejects every such request. TokenAuth
	// makes one from an *auth.Authenticator.
	Authenticate func(r *http.Request) (Identity, error)
	// Tokens, if set, serves /api/tokens.
	Tokens TokenStore
	// Logs, if set, serves /api/logs and /api/logs/stream.
	Logs LogReader
	// Metrics, if set, serves /metrics and the activity of /api/summary.
	Metrics Metrics
	// Credentials, if set, serves /api/credentials.
	Credentials CredentialStore
	// Reload, if set, serves POST /api/config/reload.
	Reload Reloader
	// Domains, if set, serves /api/domains.
	Domains DomainTable
	// Fleet, if set, is the fleet this host is one of (fleet.go).
	Fleet FleetOps

	streams     streams
	writes      *writeLimiter   // LimitWrites; nil: no limit
	streamsDone context.Context // done when CloseStreams is called
	closeStream context.CancelFunc
}

// New returns an API server over the instances' owner (the supervisor).
func New(sup Instances, log *slog.Logger) *Server {
	s := &Server{sup: sup, log: log.With("component", "api"), mux: http.NewServeMux(), group: Group}
	s.streamsDone, s.closeStream = context.WithCancel(context.Background())
	s.routes()
	return s
}

// CloseStreams ends every open log stream, so that a server's Shutdown
// need not wait for them; use it with http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() { s.closeStream() }

// handlerFunc is a handler that returns an error instead of writing one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, id Identity) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		id, ok := IdentityFrom(r.Context())
		if !ok {
			writeError(w, s.log, fmt.Errorf("%w: no credentials", errdefs.ErrUnauthorized))
			return
		}
		if err := h(w, r, id); err != nil {
			writeError(w, s.log, err)
		}
	})
}

// publicPaths are served without credentials.
var publicPaths = map[string]bool{"/health": true}

// ServeHTTP resolves the caller's identity, takes a changing call from the
// caller's limit (writelimit.go), then serves the route. Every path but the
// public ones needs credentials, unknown paths included (so an anonymous
// caller cannot probe which routes exist).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if publicPaths[r.URL.Path] {
		s.mux.ServeHTTP(w, r)
		return
	}
	id, err := s.identify(r)
	if err == nil && changes(r.Method) && !id.Fleet {
		err = s.writes.allow(id.Actor, time.Now())
	}
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
}

func (s *Server) identify(r *http.Request) (Identity, error) {
	if p, ok := PeerFrom(r.Context()); ok {
		if localAdmin(p, s.group) {
			return Identity{Admin: true, Actor: "uid:" + strconv.Itoa(int(p.UID))}, nil
		}
		return Identity{}, fmt.Errorf("%w: uid %d is neither root nor in group %s", errdefs.ErrForbidden, p.UID, s.group)
	}
	if s.Authenticate == nil {
		return Identity{}, fmt.Errorf("%w: the API is only served on the local socket", errdefs.ErrUnauthorized)
	}
	return s.Authenticate(r)
}

// writeError writes err as {"error": "..."} with its kind's status.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	status := errdefs.HTTPStatus(err)
	if status == http.StatusInternalServerError {
		log.Error("request failed", "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tenement"`)
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((ra.RetryAfter()+time.Second-1)/time.Second))))
	}
	writeJSON(w, status, apitype.ErrorResponse{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Compact: indenting a list of 10 000 instances took 5 times as
	// long as encoding it, and as much memory again. jq or ten --json
	// print it for people.
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONArray writes the JSON array of n items, encoding one item at a
// time: a list of 10 000 instances never exists as one slice of wire
// values nor as one encoded buffer, which kept the daemon's heap (and so
// its RSS) high after every full ten ps.
func writeJSONArray[T any](w http.ResponseWriter, status, n int, item func(k int) T) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	_ = bw.WriteByte('[')
	var v T // one for all items: encoding &v makes it escape, once
	for k := range n {
		if k > 0 {
			_ = bw.WriteByte(',')
		}
		v = item(k)
		if err := enc.Encode(&v); err != nil {
			return // the client went away
		}
	}
	_, _ = bw.WriteString("]\n")
	_ = bw.Flush()
}

// readJSON decodes a request body strictly (unknown fields are errors).
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty request body", errdefs.ErrInvalid)
		}
		return fmt.Errorf("%w: request body: %w", errdefs.ErrInvalid, err)
	}
	return nil
}

// instanceParam parses the {id} path segment, "service:id".
func instanceParam(r *http.Request) (names.Instance, error) {
	return names.Parse(r.PathValue("id"))
}

// readableParam parses the {id} path segment and checks that the caller may
// read (and so restart) that instance.
func readableParam(r *http.Request, id Identity) (names.Instance, error) {
	n, err := instanceParam(r)
	if err != nil {
		return n, err
	}
	return n, id.requireRead(n)
}
