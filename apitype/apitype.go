// Package apitype is the management API's wire format: the JSON bodies of
// its requests and answers, the query parameters it reads, and the values
// they carry (states, health, credential targets). The daemon's API (package
// api) and its client (package client, the `ten` CLI) both use it, so that
// neither side has to know the other's code.
//
// It imports nothing of tenement but names and errdefs, and nothing outside
// the standard library: a program that only talks to the daemon builds
// without systemd's D-Bus, the store or the metrics libraries. The server
// speaks some of it itself (the supervisor's states and health, the
// store's audit entries, the credentials' targets); its own types (the
// supervisor's Info, the store's tokens, the journal's entries) stay with
// the server and are mapped to these at the API edge (api/wire.go).
//
// The JSON names are a contract: several keep the original tenement's names
// ("id" for "service:id", "instance_id", "socket", "process"), so that its
// clients keep working.
package apitype

// ErrorResponse is the body of every error answer. The message starts
// with the error's kind ("not found: ...") and is one line.
type ErrorResponse struct {
	Error string `json:"error"`
}

// AskPath is the ask endpoint of Caddy's on-demand TLS on the root domain
// of the daemon's HTTP listener: GET AskPath?domain=NAME answers 200 when
// tenement serves NAME (`ten caddy` writes it into a Caddyfile).
const AskPath = "/api/tls/ask"
