package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/tenement/tenement/apitype"
)

func credentialPath(t apitype.CredentialTarget, name string) string {
	p := "/api/credentials/" + url.PathEscape(t.String())
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// Credentials lists a target's credentials: names, sizes and times, never
// values. For an instance, what it receives: its own and its service's.
func (c *Client) Credentials(ctx context.Context, t apitype.CredentialTarget) ([]apitype.Credential, error) {
	var out []apitype.Credential
	err := c.Do(ctx, http.MethodGet, credentialPath(t, ""), nil, &out)
	return out, err
}

// SetCredential stores a credential's value (at most apitype.MaxCredentialSize
// bytes); it reaches the target's instances at their next start.
func (c *Client) SetCredential(ctx context.Context, t apitype.CredentialTarget, name string, value []byte) (apitype.CredentialResponse, error) {
	var out apitype.CredentialResponse
	err := c.DoRaw(ctx, http.MethodPut, credentialPath(t, name), "application/octet-stream", bytes.NewReader(value), &out)
	return out, err
}

// RemoveCredential deletes a credential of a target.
func (c *Client) RemoveCredential(ctx context.Context, t apitype.CredentialTarget, name string) error {
	return c.Do(ctx, http.MethodDelete, credentialPath(t, name), nil, nil)
}
