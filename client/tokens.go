package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenement/tenement/apitype"
)

// Tokens lists the API tokens (never their secrets).
func (c *Client) Tokens(ctx context.Context) ([]apitype.TokenInfo, error) {
	var out []apitype.TokenInfo
	err := c.Do(ctx, http.MethodGet, "/api/tokens", nil, &out)
	return out, err
}

// CreateToken issues a token; an empty tenant makes an admin token. The
// answer holds the secret, which the daemon shows only this once.
func (c *Client) CreateToken(ctx context.Context, tenant, description string) (apitype.NewToken, error) {
	var out apitype.NewToken
	err := c.Do(ctx, http.MethodPost, "/api/tokens", apitype.TokenRequest{Tenant: tenant, Description: description}, &out)
	return out, err
}

// RevokeToken revokes a token by its id.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/api/tokens/"+url.PathEscape(id), nil, nil)
}

// Audit returns the newest limit audit entries (all when limit is 0),
// oldest first.
func (c *Client) Audit(ctx context.Context, limit int) ([]apitype.AuditEntry, error) {
	var out []apitype.AuditEntry
	err := c.Do(ctx, http.MethodGet, "/api/audit?limit="+strconv.Itoa(limit), nil, &out)
	return out, err
}
