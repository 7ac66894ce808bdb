package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// The order gate.
//
// autocert asks the host policy at a handshake, before it orders a
// certificate, but never when it renews one: every certificate it holds in
// memory has a timer of its own (autocert's domainRenewal) that orders a
// new one when a third of its lifetime is left (30 days at most), asking
// nobody, and after a failure tries again every 30 to 60 minutes, for as
// long as the daemon runs. autocert can stop all the timers, not one. So a
// custom domain that was removed (ten domain remove) would go on being
// renewed, for a name tenement no longer serves and that may now point
// somewhere else, against the CA's rate limits.
//
// The gate is the ACME client's HTTP transport: it reads every new order
// as it is sent (a JWS POST whose payload has "identifiers"; no other ACME
// request has them) and refuses it before it reaches the CA when the host
// policy does not allow one of its names now, whoever started it: a
// handshake or a renewal timer. A refused renewal asks the CA nothing (at
// most a fresh nonce), and autocert's timer tries again in 30 to 60
// minutes, to be refused again, until the daemon restarts and the name,
// refused at every handshake, is never loaded again.
type orderGate struct {
	base  http.RoundTripper
	allow func(ctx context.Context, name string) error
	log   *slog.Logger
}

// maxJWS bounds the request body the gate reads: a new order is a few
// hundred bytes.
const maxJWS = 64 << 10

// RoundTrip sends req unless it is a new order for a name the host policy
// refuses now.
func (g *orderGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil || req.Body == http.NoBody {
		return g.base.RoundTrip(req)
	}
	body, req, err := peekBody(req)
	if err != nil {
		return nil, fmt.Errorf("tls: acme: read request: %w", err)
	}
	for _, name := range orderNames(body) {
		if err := g.allow(req.Context(), name); err != nil {
			g.log.Warn("refused a certificate order for a name tenement does not serve now (a renewal of a removed custom domain, or a handshake that raced its removal)",
				"host", name, "err", err)
			return nil, fmt.Errorf("tls: no certificate order for %q: %w", name, err)
		}
	}
	return g.base.RoundTrip(req)
}

// peekBody returns the body of req and a request to send in its place:
// req itself when it can give its body again (GetBody, as every request
// of the acme package can), else a clone carrying the bytes read.
func peekBody(req *http.Request) ([]byte, *http.Request, error) {
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxJWS))
		return b, req, err
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, out, nil
}

// orderNames returns the identifiers of a new order's JWS (RFC 8555 §7.4),
// or nothing for any other request. The payload is not encrypted, only
// signed: base64url JSON.
func orderNames(body []byte) []string {
	var jws struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(body, &jws) != nil || jws.Payload == "" {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return nil
	}
	var order struct {
		Identifiers []struct {
			Value string `json:"value"`
		} `json:"identifiers"`
	}
	if json.Unmarshal(raw, &order) != nil {
		return nil
	}
	out := make([]string, 0, len(order.Identifiers))
	for _, id := range order.Identifiers {
		out = append(out, id.Value)
	}
	return out
}
