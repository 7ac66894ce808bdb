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
	created, err := s.sup.CreateMany(ns)
	target := ns[0].String()
	if len(ns) > 1 {
		target += " and " + strconv.Itoa(len(ns)-1) + " more"
	}
	s.audit(id, "create", target, "", err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.CreateResponse{Created: created, Known: len(ns) - created})
	return nil
}
