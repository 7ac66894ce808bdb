package api

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// FleetOps is what the API asks of a fleet (SPEC §12; package fleetops):
// creations on a named host, moves, drains, and the data a moving
// instance brings. Server.Fleet is nil outside a fleet: then a request
// that names a host is refused, and these routes are not served.
type FleetOps interface {
	Create(ctx context.Context, ns []names.Instance, host string) (apitype.CreateResponse, error)
	Spawn(ctx context.Context, n names.Instance, host string) (supervisor.Info, error)
	Move(ctx context.Context, n names.Instance, to string, withoutData bool) (apitype.MoveResponse, error)
	ImportData(ctx context.Context, n names.Instance, r io.Reader) (int64, error)
	DropData(ctx context.Context, n names.Instance) error
	Drain(ctx context.Context, host string) (apitype.DrainResponse, error)
}

func (s *Server) fleetRoutes() {
	s.handle("POST /api/instances/{id}/move", s.move)
	s.handle("PUT /api/instances/{id}/data", s.importData)
	s.handle("DELETE /api/instances/{id}/data", s.dropData)
	s.handle("POST /api/hosts/{host}/drain", s.drain)
}

// FleetAuth returns a Server.Authenticate for a host of a fleet: a
// request that a peer sent (the proxy checked its hop header: the fleet's
// secret, from a live host's address; auth.FromPeer) is that peer's, an
// admin's; every other one is next's.
func FleetAuth(next func(r *http.Request) (Identity, error)) func(r *http.Request) (Identity, error) {
	return func(r *http.Request) (Identity, error) {
		if host, ok := auth.FromPeer(r.Context()); ok {
			return Identity{Admin: true, Actor: "fleet:" + host, Fleet: true}, nil
		}
		return next(r)
	}
}

// fleetOps returns the fleet, or an error when there is none.
func (s *Server) fleetOps(id Identity, what string) (FleetOps, error) {
	if err := id.requireAdmin(what); err != nil {
		return nil, err
	}
	if s.Fleet == nil {
		return nil, fmt.Errorf("%w: %s: this daemon is not in a fleet (no [fleet] in its config)", errdefs.ErrUnimplemented, what)
	}
	return s.Fleet, nil
}

// noHost refuses a host named outside a fleet.
func (s *Server) noHost(host string) error {
	if host != "" && s.Fleet == nil {
		return fmt.Errorf("%w: host %q: this daemon is not in a fleet (no [fleet] in its config)", errdefs.ErrInvalid, host)
	}
	return nil
}

func (s *Server) move(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := instanceParam(r)
	if err != nil {
		return err
	}
	var req apitype.MoveRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	f, err := s.fleetOps(id, "move")
	if err != nil {
		return err
	}
	if req.To == "" {
		return fmt.Errorf("%w: missing \"to\": the host to move it to", errdefs.ErrInvalid)
	}
	resp, err := f.Move(r.Context(), n, req.To, req.WithoutData)
	details := "to=" + req.To
	if req.WithoutData {
		details += " without data"
	}
	s.audit(id, "move", n.String(), details, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) importData(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := instanceParam(r)
	if err != nil {
		return err
	}
	f, err := s.fleetOps(id, "moving data")
	if err != nil {
		return err
	}
	b, err := f.ImportData(r.Context(), n, r.Body)
	s.audit(id, "data-import", n.String(), fmt.Sprintf("bytes=%d", b), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DataResponse{Instance: n.String(), Bytes: b})
	return nil
}

func (s *Server) dropData(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := instanceParam(r)
	if err != nil {
		return err
	}
	f, err := s.fleetOps(id, "moving data")
	if err != nil {
		return err
	}
	err = f.DropData(r.Context(), n)
	s.audit(id, "data-drop", n.String(), "", err)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) drain(w http.ResponseWriter, r *http.Request, id Identity) error {
	host := r.PathValue("host")
	f, err := s.fleetOps(id, "drain")
	if err != nil {
		return err
	}
	resp, err := f.Drain(r.Context(), host)
	s.audit(id, "drain", "host:"+host, fmt.Sprintf("moved=%d failed=%d", len(resp.Moved), len(resp.Failed)), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
