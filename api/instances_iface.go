package api

import (
	"context"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// Instances is what the API asks of the instances' owner;
// *supervisor.Supervisor is one. The handlers parse, check who asks, call
// one of these and map the answer: the decisions are the supervisor's.
type Instances interface {
	Reader
	Lifecycle
	Router
}

// Reader answers about instances, from memory (Health and MeasureStorage
// look now).
type Reader interface {
	List(opts supervisor.ListOptions) ([]supervisor.Info, names.Instance)
	Get(ctx context.Context, n names.Instance) (supervisor.Info, error)
	Known(n names.Instance) bool
	// ServiceConfig returns a service's config, or nil when it is not
	// configured.
	ServiceConfig(service string) *config.Service
	Health(ctx context.Context, n names.Instance) (supervisor.Health, error)
	MeasureStorage(n names.Instance) (int64, error)
}

// Lifecycle starts, stops and forgets instances.
type Lifecycle interface {
	CreateMany(ns []names.Instance) (int, error)
	Spawn(ctx context.Context, n names.Instance) (supervisor.Info, error)
	Stop(ctx context.Context, n names.Instance) error
	Restart(ctx context.Context, n names.Instance) (supervisor.Info, error)
	Delete(ctx context.Context, n names.Instance, purge bool) error
	RestartService(ctx context.Context, service string) ([]names.Instance, error)
	KeepAwake(n names.Instance, until time.Time) error
}

// Router sets the weights of the services' pools.
type Router interface {
	SetWeight(n names.Instance, w int) error
	Deploy(ctx context.Context, n names.Instance, weight int, timeout time.Duration) (supervisor.Info, error)
	Route(from, to names.Instance) error
}

var _ Instances = (*supervisor.Supervisor)(nil)
