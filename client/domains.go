package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// Domains lists the custom domains the caller may read: all (admin) or its
// own instances' (tenant); only n's when n is not the zero Instance.
func (c *Client) Domains(ctx context.Context, n names.Instance) ([]apitype.Domain, error) {
	path := "/api/domains"
	if !n.IsZero() {
		path += "?instance=" + url.QueryEscape(n.String())
	}
	var out []apitype.Domain
	err := c.Do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// AddDomain binds a custom domain to n (admin). With move, a domain bound
// to another instance moves to n.
func (c *Client) AddDomain(ctx context.Context, n names.Instance, domain string, move bool) (apitype.Domain, error) {
	var out apitype.Domain
	err := c.Do(ctx, http.MethodPost, "/api/domains", apitype.DomainRequest{Instance: n.String(), Domain: domain, Move: move}, &out)
	return out, err
}

// RemoveDomain unbinds a custom domain (admin).
func (c *Client) RemoveDomain(ctx context.Context, domain string) error {
	return c.Do(ctx, http.MethodDelete, "/api/domains/"+url.PathEscape(domain), nil, nil)
}
