package apitype

// HopHeader is the header with which a host of a fleet marks a request it
// forwards to another (a tenant's request, one hop, Host unchanged) or an
// API call it makes there: "HOST SECRET", the sending host's name and the
// fleet's shared secret. The receiving host believes it only from a live
// host's address and with the right secret, removes it before anything
// else sees the request, and never forwards a request that carried it.
const HopHeader = "Tenement-Fleet-Hop"

// MoveRequest is the body of POST /api/instances/{svc:id}/move.
type MoveRequest struct {
	// To is the host to move the instance to. Required.
	To string `json:"to"`
	// WithoutData flips the placement only: the data stays where it is.
	// For an instance whose host is gone for good (its data restored
	// from a backup on the new host, or lost).
	WithoutData bool `json:"without_data,omitempty"`
}

// MoveResponse answers a move: the instance lives on To now.
type MoveResponse struct {
	Instance string `json:"instance"`
	From     string `json:"from"`
	To       string `json:"to"`
	// Bytes is how much data was copied.
	Bytes int64 `json:"bytes"`
	// Seconds is how long the instance was unavailable (stopped on From
	// until placed on To).
	Seconds float64 `json:"seconds"`
}

// DrainResponse answers POST /api/hosts/{host}/drain: what moved where,
// and what could not move (it stays on the host).
type DrainResponse struct {
	Host   string         `json:"host"`
	Moved  []MoveResponse `json:"moved"`
	Failed []DrainFailure `json:"failed"`
}

// DrainFailure is an instance a drain could not move.
type DrainFailure struct {
	Instance string `json:"instance"`
	Error    string `json:"error"`
}

// DataResponse answers PUT /api/instances/{svc:id}/data: how much data
// the host took.
type DataResponse struct {
	Instance string `json:"instance"`
	Bytes    int64  `json:"bytes"`
}
