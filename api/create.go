package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// create registers instances without starting them, all in one store
// transaction: a sign-up flow registers its customers this way, and each
// wakes on its first request. Every name is checked before anything is
// stored; one bad name refuses the whole call.
func (s *Server) create(w http.ResponseWriter, r *http.Request, id Identity) error {
	if err := id.requireAdmin("create"); err != nil {
		return err
	}
	var req apitype.CreateRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	switch {
	case len(req.Instances) == 0:
		return fmt.Errorf("%w: no instances: want {\"instances\": [\"service:id\", ...]}", errdefs.ErrInvalid)
	case len(req.Instances) > apitype.MaxCreate:
		return fmt.Errorf("%w: %d instances in one call: at most %d", errdefs.ErrInvalid, len(req.Instances), apitype.MaxCreate)
	}
	ns := make([]names.Instance, len(req.Instances))
	for i, in := range req.Instances {
		n, err := names.Parse(in)
		if err != nil {
			return err
		}
		ns[i] = n
	}
	if err := s.noHost(req.Host); err != nil {
		return err
	}
	var resp apitype.CreateResponse
	var err error
	if s.Fleet != nil { // placed first (fleetops)
		resp, err = s.Fleet.Create(r.Context(), ns, req.Host)
	} else {
		resp.Created, err = s.sup.CreateMany(ns)
		resp.Known = len(ns) - resp.Created
	}
	target := ns[0].String()
	if len(ns) > 1 {
		target += " and " + strconv.Itoa(len(ns)-1) + " more"
	}
	details := ""
	if req.Host != "" {
		details = "host=" + req.Host
	}
	s.audit(id, "create", target, details, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
