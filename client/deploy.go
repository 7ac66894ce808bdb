package client

import (
	"context"
	"net/http"
	"time"

	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/names"
)

// Deploy starts n (service:version), waits until it is healthy within
// timeout and gives it weight; the daemon stops it when it never gets
// healthy.
func (c *Client) Deploy(ctx context.Context, n names.Instance, weight int, timeout time.Duration) (api.DeployResponse, error) {
	secs := int((timeout + time.Second - 1) / time.Second)
	req := api.DeployRequest{Service: n.Service, Version: n.ID, Weight: &weight, Timeout: &secs}
	var out api.DeployResponse
	err := c.Do(ctx, http.MethodPost, "/api/deploy", req, &out)
	return out, err
}

// Route moves a service's weighted traffic from one version to another.
func (c *Client) Route(ctx context.Context, service, from, to string) (api.RouteResponse, error) {
	var out api.RouteResponse
	err := c.Do(ctx, http.MethodPost, "/api/route", api.RouteRequest{Service: service, From: from, To: to}, &out)
	return out, err
}

// Storage measures an instance's data dir.
func (c *Client) Storage(ctx context.Context, n names.Instance) (api.StorageResponse, error) {
	var out api.StorageResponse
	err := c.Do(ctx, http.MethodGet, instancePath(n, "/storage"), nil, &out)
	return out, err
}
