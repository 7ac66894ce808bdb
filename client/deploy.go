package client

import (
	"context"
	"net/http"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// Deploy starts n (service:version), waits until it is healthy within
// timeout and gives it weight; the daemon stops it when it never gets
// healthy.
func (c *Client) Deploy(ctx context.Context, n names.Instance, weight int, timeout time.Duration) (apitype.DeployResponse, error) {
	secs := int((timeout + time.Second - 1) / time.Second)
	req := apitype.DeployRequest{Service: n.Service, Version: n.ID, Weight: &weight, Timeout: &secs}
	var out apitype.DeployResponse
	err := c.Do(ctx, http.MethodPost, "/api/deploy", req, &out)
	return out, err
}

// Route moves a service's weighted traffic from one version to another.
func (c *Client) Route(ctx context.Context, service, from, to string) (apitype.RouteResponse, error) {
	var out apitype.RouteResponse
	err := c.Do(ctx, http.MethodPost, "/api/route", apitype.RouteRequest{Service: service, From: from, To: to}, &out)
	return out, err
}

// Storage measures an instance's data dir.
func (c *Client) Storage(ctx context.Context, n names.Instance) (apitype.StorageResponse, error) {
	var out apitype.StorageResponse
	err := c.Do(ctx, http.MethodGet, instancePath(n, "/storage"), nil, &out)
	return out, err
}
