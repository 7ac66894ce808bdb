package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// CreateOn registers instances asleep on a fleet host ("" lets the fleet
// choose for each).
func (c *Client) CreateOn(ctx context.Context, ns []names.Instance, host string) (apitype.CreateResponse, error) {
	req := apitype.CreateRequest{Instances: make([]string, len(ns)), Host: host}
	for i, n := range ns {
		req.Instances[i] = n.String()
	}
	var out apitype.CreateResponse
	err := c.Do(ctx, http.MethodPost, "/api/instances", req, &out)
	return out, err
}

// SpawnOn starts an instance, placing a new one on a fleet host ("" lets
// the fleet choose), and waits until it is ready.
func (c *Client) SpawnOn(ctx context.Context, n names.Instance, host string) (apitype.InstanceResponse, error) {
	var out apitype.InstanceResponse
	err := c.Do(ctx, http.MethodPost, "/api/instances/spawn", apitype.SpawnRequest{Service: n.Service, ID: n.ID, Host: host}, &out)
	return out, err
}

// Move moves an instance to another fleet host with its data (without it,
// withoutData: the placement only).
func (c *Client) Move(ctx context.Context, n names.Instance, to string, withoutData bool) (apitype.MoveResponse, error) {
	var out apitype.MoveResponse
	err := c.Do(ctx, http.MethodPost, instancePath(n, "/move"), apitype.MoveRequest{To: to, WithoutData: withoutData}, &out)
	return out, err
}

// PutData sends an instance's data (a tar stream, as a moving host makes
// it) to the host it moves to.
func (c *Client) PutData(ctx context.Context, n names.Instance, tar io.Reader) (apitype.DataResponse, error) {
	var out apitype.DataResponse
	err := c.DoRaw(ctx, http.MethodPut, instancePath(n, "/data"), "application/x-tar", tar, &out)
	return out, err
}

// DropData removes a copy of an instance's data that a move left on a
// host that does not own the instance.
func (c *Client) DropData(ctx context.Context, n names.Instance) error {
	return c.Do(ctx, http.MethodDelete, instancePath(n, "/data"), nil, nil)
}

// Drain moves every instance off a fleet host.
func (c *Client) Drain(ctx context.Context, host string) (apitype.DrainResponse, error) {
	var out apitype.DrainResponse
	err := c.Do(ctx, http.MethodPost, "/api/hosts/"+url.PathEscape(host)+"/drain", nil, &out)
	return out, err
}
