package apitype

import "time"

// TokenInfo describes an API token without its secret (GET /api/tokens).
type TokenInfo struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"` // empty for an admin token
	Admin       bool      `json:"admin"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// TokenRequest is the body of POST /api/tokens: an empty tenant makes an
// admin token.
type TokenRequest struct {
	Tenant      string `json:"tenant,omitempty"`
	Description string `json:"description,omitempty"`
}

// NewToken answers POST /api/tokens. Token is the secret: it is shown
// only here, the daemon keeps its hash.
type NewToken struct {
	TokenInfo
	Token string `json:"token"`
}

// AuditEntry is one entry of the audit log (GET /api/audit): who changed
// what, when, and how it ended.
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`  // "token:<id>", "tenant:<t>/token:<id>", "uid:<n>" or "daemon"
	Action  string    `json:"action"` // "spawn", "stop", "restart", "weight", ...
	Target  string    `json:"target,omitempty"`
	Details string    `json:"details,omitempty"`
	Result  string    `json:"result"` // "ok", or "error: " and the error
}
