package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

func instancePath(n names.Instance, suffix string) string {
	return "/api/instances/" + url.PathEscape(n.String()) + suffix
}

// Instances lists the instances the caller may see.
func (c *Client) Instances(ctx context.Context) ([]supervisor.Info, error) {
	var out []supervisor.Info
	err := c.Do(ctx, http.MethodGet, "/api/instances", nil, &out)
	return out, err
}

// Instance returns one instance.
func (c *Client) Instance(ctx context.Context, n names.Instance) (supervisor.Info, error) {
	var out supervisor.Info
	err := c.Do(ctx, http.MethodGet, instancePath(n, ""), nil, &out)
	return out, err
}

// Create registers instances asleep, in one call (at most api.MaxCreate).
func (c *Client) Create(ctx context.Context, ns []names.Instance) (api.CreateResponse, error) {
	req := api.CreateRequest{Instances: make([]string, len(ns))}
	for i, n := range ns {
		req.Instances[i] = n.String()
	}
	var out api.CreateResponse
	err := c.Do(ctx, http.MethodPost, "/api/instances", req, &out)
	return out, err
}

// ReloadConfig makes the daemon reload its config file.
func (c *Client) ReloadConfig(ctx context.Context) (api.ReloadResponse, error) {
	var out api.ReloadResponse
	err := c.Do(ctx, http.MethodPost, "/api/config/reload", nil, &out)
	return out, err
}

// RestartService restarts a service's running instances one at a time.
func (c *Client) RestartService(ctx context.Context, service string) (api.ServiceRestartResponse, error) {
	var out api.ServiceRestartResponse
	err := c.Do(ctx, http.MethodPost, "/api/services/"+url.PathEscape(service)+"/restart", nil, &out)
	return out, err
}

// Spawn starts an instance and waits until it is ready.
func (c *Client) Spawn(ctx context.Context, n names.Instance) (api.InstanceResponse, error) {
	var out api.InstanceResponse
	err := c.Do(ctx, http.MethodPost, "/api/instances/spawn", api.SpawnRequest{Service: n.Service, ID: n.ID}, &out)
	return out, err
}

// Stop stops an instance.
func (c *Client) Stop(ctx context.Context, n names.Instance) error {
	return c.Do(ctx, http.MethodPost, instancePath(n, "/stop"), nil, nil)
}

// Restart restarts an instance.
func (c *Client) Restart(ctx context.Context, n names.Instance) (api.InstanceResponse, error) {
	var out api.InstanceResponse
	err := c.Do(ctx, http.MethodPost, instancePath(n, "/restart"), nil, &out)
	return out, err
}

// Delete forgets an instance; purge removes its data dir too.
func (c *Client) Delete(ctx context.Context, n names.Instance, purge bool) error {
	return c.Do(ctx, http.MethodPost, instancePath(n, "/delete"), api.DeleteRequest{Purge: purge}, nil)
}

// SetWeight sets an instance's routing weight.
func (c *Client) SetWeight(ctx context.Context, n names.Instance, w int) (api.WeightResponse, error) {
	var out api.WeightResponse
	err := c.Do(ctx, http.MethodPut, instancePath(n, "/weight"), api.WeightRequest{Weight: &w}, &out)
	return out, err
}

// Health checks an instance now.
func (c *Client) Health(ctx context.Context, n names.Instance) (api.HealthResponse, error) {
	var out api.HealthResponse
	err := c.Do(ctx, http.MethodGet, instancePath(n, "/health"), nil, &out)
	return out, err
}
