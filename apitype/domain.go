package apitype

import "time"

// DomainRequest is the body of POST /api/domains: bind Domain, a custom
// domain, to Instance ("service:id"). With Move, a domain bound to another
// instance moves to this one at once (else that is a 409).
type DomainRequest struct {
	Instance string `json:"instance"`
	Domain   string `json:"domain"`
	Move     bool   `json:"move,omitempty"`
}

// Domain is a custom domain bound to an instance, as GET /api/domains
// lists it and POST /api/domains answers. Domain is in the form tenement
// stores: lowercase ASCII, internationalized labels in punycode.
type Domain struct {
	Domain    string    `json:"domain"`
	Instance  string    `json:"instance"`
	CreatedAt time.Time `json:"created_at"`
	// MovedFrom is the instance a move took the domain from.
	MovedFrom string `json:"moved_from,omitempty"`
}
