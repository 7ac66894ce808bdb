package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
)

// KeepAwakeRequest is the body of POST /api/instances/{id}/keep-awake:
// keep the instance from sleeping for a duration ("2h", or seconds), "0"
// ending a keep-awake.
type KeepAwakeRequest struct {
	For config.Duration `json:"for"`
}

// UnmarshalJSON takes "for" as a duration string or a number of seconds.
func (k *KeepAwakeRequest) UnmarshalJSON(b []byte) error {
	var raw struct {
		For any `json:"for"`
	}
	if err := jsonStrict(b, &raw); err != nil {
		return err
	}
	switch v := raw.For.(type) {
	case string:
		return k.For.UnmarshalTOML(v)
	case float64:
		return k.For.UnmarshalTOML(int64(v))
	}
	return fmt.Errorf("\"for\": want a duration (\"2h\") or seconds")
}

// jsonStrict decodes b into v, refusing unknown fields.
func jsonStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// KeepAwakeResponse says until when the instance stays awake.
type KeepAwakeResponse struct {
	Instance string    `json:"instance"`
	Until    time.Time `json:"until,omitzero"`
}

// keepAwake keeps an instance from going to sleep; its own tenant's token
// may ask (an app with background work keeps itself awake), as may an
// admin. It does not wake an asleep instance.
func (s *Server) keepAwake(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := readableParam(r, id)
	if err != nil {
		return err
	}
	var req KeepAwakeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	var until time.Time
	if d := req.For.D(); d > 0 {
		until = time.Now().Add(d)
	} else if d < 0 {
		return fmt.Errorf("%w: \"for\": a negative duration", errdefs.ErrInvalid)
	}
	err = s.sup.KeepAwake(n, until)
	s.audit(id, "keep-awake", n.String(), req.For.String(), err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, KeepAwakeResponse{Instance: n.String(), Until: until.UTC().Truncate(time.Second)})
	return nil
}
