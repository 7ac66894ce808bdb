package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

func instancePath(n names.Instance, suffix string) string {
	return "/api/instances/" + url.PathEscape(n.String()) + suffix
}

// Instances lists every instance the caller may see, in one answer.
func (c *Client) Instances(ctx context.Context) ([]apitype.Instance, error) {
	var out []apitype.Instance
	err := c.Do(ctx, http.MethodGet, "/api/instances", nil, &out)
	return out, err
}

// List returns the instances q selects, ordered by service then id, and,
// when q.Limit cut the list short, the cursor of the next page (set it as
// q.After and call again); else the zero Instance.
func (c *Client) List(ctx context.Context, q apitype.ListQuery) ([]apitype.Instance, names.Instance, error) {
	var out []apitype.Instance
	next, err := c.ListEach(ctx, q, func(i *apitype.Instance) error {
		out = append(out, *i)
		return nil
	})
	if err != nil {
		return nil, names.Instance{}, err
	}
	if out == nil {
		out = []apitype.Instance{}
	}
	return out, next, nil
}

// ListEach is List that hands each instance to fn as it is decoded, so
// that a caller that keeps only a row of each never holds the whole list:
// 10 000 instances are 4 MB of JSON. fn may keep i; an error from fn ends
// the list and is returned.
func (c *Client) ListEach(ctx context.Context, q apitype.ListQuery, fn func(i *apitype.Instance) error) (names.Instance, error) {
	path := "/api/instances"
	if v := q.Values(); len(v) > 0 {
		path += "?" + v.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return names.Instance{}, err
	}
	defer resp.Body.Close()
	if err := decodeEach(resp.Body, fn); err != nil {
		return names.Instance{}, fmt.Errorf("GET %s: decode answer: %w", path, err)
	}
	next, err := nextCursor(resp.Header.Values("Link"))
	if err != nil {
		return names.Instance{}, fmt.Errorf("GET %s: %w", path, err)
	}
	return next, nil
}

// decodeEach decodes a JSON array of instances from r one element at a
// time.
func decodeEach(r io.Reader, fn func(i *apitype.Instance) error) error {
	dec := jsontext.NewDecoder(r)
	if tok, err := dec.ReadToken(); err != nil {
		return err
	} else if tok.Kind() != '[' {
		return fmt.Errorf("want an array, got %v", tok.Kind())
	}
	for dec.PeekKind() != ']' {
		var i apitype.Instance
		if err := jsonv2.UnmarshalDecode(dec, &i); err != nil {
			return err
		}
		if err := fn(&i); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// nextCursor reads the after parameter of the rel="next" link of Link
// headers (RFC 8288); the zero Instance when there is none.
func nextCursor(links []string) (names.Instance, error) {
	for _, h := range links {
		for link := range strings.SplitSeq(h, ",") {
			target, params, _ := strings.Cut(strings.TrimSpace(link), ";")
			if !relNext(params) {
				continue
			}
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(target), "<"), ">"))
			if err != nil {
				return names.Instance{}, fmt.Errorf("the Link header %q: %w", h, err)
			}
			q, err := apitype.ParseListQuery(u.Query())
			if err != nil || q.After.IsZero() {
				return names.Instance{}, fmt.Errorf("the Link header %q: no next page's cursor (after=service:id)", h)
			}
			return q.After, nil
		}
	}
	return names.Instance{}, nil
}

// Instance returns one instance.
func (c *Client) Instance(ctx context.Context, n names.Instance) (apitype.Instance, error) {
	var out apitype.Instance
	err := c.Do(ctx, http.MethodGet, instancePath(n, ""), nil, &out)
	return out, err
}

// Create registers instances asleep, in one call (at most apitype.MaxCreate).
func (c *Client) Create(ctx context.Context, ns []names.Instance) (apitype.CreateResponse, error) {
	req := apitype.CreateRequest{Instances: make([]string, len(ns))}
	for i, n := range ns {
		req.Instances[i] = n.String()
	}
	var out apitype.CreateResponse
	err := c.Do(ctx, http.MethodPost, "/api/instances", req, &out)
	return out, err
}

// KeepAwake keeps an instance from sleeping for d (0 ends a keep-awake).
func (c *Client) KeepAwake(ctx context.Context, n names.Instance, d time.Duration) (apitype.KeepAwakeResponse, error) {
	var out apitype.KeepAwakeResponse
	err := c.Do(ctx, http.MethodPost, instancePath(n, "/keep-awake"), apitype.KeepAwakeRequest{For: apitype.Duration(d)}, &out)
	return out, err
}

// ReloadConfig makes the daemon reload its config file.
func (c *Client) ReloadConfig(ctx context.Context) (apitype.ReloadResponse, error) {
	var out apitype.ReloadResponse
	err := c.Do(ctx, http.MethodPost, "/api/config/reload", nil, &out)
	return out, err
}

// RestartService restarts a service's running instances one at a time.
func (c *Client) RestartService(ctx context.Context, service string) (apitype.ServiceRestartResponse, error) {
	var out apitype.ServiceRestartResponse
	err := c.Do(ctx, http.MethodPost, "/api/services/"+url.PathEscape(service)+"/restart", nil, &out)
	return out, err
}

// Spawn starts an instance and waits until it is ready.
func (c *Client) Spawn(ctx context.Context, n names.Instance) (apitype.InstanceResponse, error) {
	var out apitype.InstanceResponse
	err := c.Do(ctx, http.MethodPost, "/api/instances/spawn", apitype.SpawnRequest{Service: n.Service, ID: n.ID}, &out)
	return out, err
}

// Stop stops an instance.
func (c *Client) Stop(ctx context.Context, n names.Instance) error {
	return c.Do(ctx, http.MethodPost, instancePath(n, "/stop"), nil, nil)
}

// Restart restarts an instance.
func (c *Client) Restart(ctx context.Context, n names.Instance) (apitype.InstanceResponse, error) {
	var out apitype.InstanceResponse
	err := c.Do(ctx, http.MethodPost, instancePath(n, "/restart"), nil, &out)
	return out, err
}

// Delete forgets an instance; purge removes its data dir too.
func (c *Client) Delete(ctx context.Context, n names.Instance, purge bool) error {
	return c.Do(ctx, http.MethodPost, instancePath(n, "/delete"), apitype.DeleteRequest{Purge: purge}, nil)
}

// SetWeight sets an instance's routing weight.
func (c *Client) SetWeight(ctx context.Context, n names.Instance, w int) (apitype.WeightResponse, error) {
	var out apitype.WeightResponse
	err := c.Do(ctx, http.MethodPut, instancePath(n, "/weight"), apitype.WeightRequest{Weight: &w}, &out)
	return out, err
}

// Health checks an instance now.
func (c *Client) Health(ctx context.Context, n names.Instance) (apitype.HealthResponse, error) {
	var out apitype.HealthResponse
	err := c.Do(ctx, http.MethodGet, instancePath(n, "/health"), nil, &out)
	return out, err
}

// relNext reports whether a link's parameters (`rel="next"; ...`) have
// the relation type next.
func relNext(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "rel") &&
			slices.Contains(strings.Fields(strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`))), "next") {
			return true
		}
	}
	return false
}
