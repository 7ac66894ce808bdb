package api

import (
	"net/http"
	"time"

	"github.com/tenement/tenement/apitype"
)

// keepAwake keeps an instance from going to sleep; its own tenant's token
// may ask (an app with background work keeps itself awake), as may an
// admin. It does not wake an asleep instance.
func (s *Server) keepAwake(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := readableParam(r, id)
	if err != nil {
		return err
	}
	var req apitype.KeepAwakeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	var until time.Time
	if d := req.For.D(); d > 0 {
		until = time.Now().Add(d)
	}
	err = s.sup.KeepAwake(n, until)
	s.audit(id, "keep-awake", n.String(), req.For.String(), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.KeepAwakeResponse{Instance: n.String(), Until: until.UTC().Truncate(time.Second)})
	return nil
}
