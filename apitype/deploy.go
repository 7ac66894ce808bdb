package apitype

import "time"

// Deploy defaults and bounds.
const (
	DefaultDeployWeight  = 100
	DefaultDeployTimeout = 30 * time.Second
	MaxDeployTimeout     = time.Hour
)

// DeployRequest is the body of POST /api/deploy: start service:version,
// wait until it is healthy, then give it weight (default
// DefaultDeployWeight). Process is the original's name for Service; Timeout
// is in seconds (default DefaultDeployTimeout, at most MaxDeployTimeout).
type DeployRequest struct {
	Service string `json:"service,omitempty"`
	Process string `json:"process,omitempty"`
	Version string `json:"version"`
	Weight  *int   `json:"weight,omitempty"`
	Timeout *int   `json:"timeout,omitempty"`
}

// DeployResponse answers a deploy that became healthy.
type DeployResponse struct {
	Instance string `json:"instance"`
	Socket   string `json:"socket"`
	Port     int    `json:"port"`
	Unit     string `json:"unit"`
	Weight   int    `json:"weight"`
	Status   Health `json:"status"` // "healthy"
}

// RouteRequest is the body of POST /api/route: move the weighted traffic of
// a service from one version to another.
type RouteRequest struct {
	Service string `json:"service,omitempty"`
	Process string `json:"process,omitempty"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// RouteResponse answers a route.
type RouteResponse struct {
	FromInstance string `json:"from_instance"`
	ToInstance   string `json:"to_instance"`
	FromWeight   int    `json:"from_weight"`
	ToWeight     int    `json:"to_weight"`
}
