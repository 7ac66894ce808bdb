// Package errdefs defines the few error kinds that cross package boundaries.
//
// Errors are wrapped with %w and the identifying context (an instance name, a
// unit, a config key) and checked with errors.Is. The API edge maps each kind to
// an HTTP status exactly once; the API client maps the status back to the kind,
// so a CLI caller can test errors.Is(err, errdefs.ErrNotFound) whether it talked
// to the daemon or not.
package errdefs

import (
	"errors"
	"net/http"
)

// The error kinds. Each names a class of failure, not a particular one.
var (
	ErrInvalid       = errors.New("invalid argument")
	ErrNotFound      = errors.New("not found")
	ErrConflict      = errors.New("conflict")
	ErrUnauthorized  = errors.New("unauthorized")
	ErrForbidden     = errors.New("forbidden")
	ErrUnavailable   = errors.New("unavailable")
	ErrTimeout       = errors.New("timeout")
	ErrRateLimited   = errors.New("too many requests")
	ErrUpstream      = errors.New("upstream error")
	ErrUnimplemented = errors.New("not implemented")
	// ErrMethodNotAllowed is a known route asked with a method it does not
	// serve.
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// kinds pairs each kind with its HTTP status, in the order they are tested.
var kinds = []struct {
	err    error
	status int
}{
	{ErrInvalid, http.StatusBadRequest},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrForbidden, http.StatusForbidden},
	{ErrRateLimited, http.StatusTooManyRequests},
	{ErrTimeout, http.StatusGatewayTimeout},
	{ErrUnavailable, http.StatusServiceUnavailable},
	{ErrUpstream, http.StatusBadGateway},
	{ErrUnimplemented, http.StatusNotImplemented},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed},
}

// HTTPStatus maps an error to the HTTP status of its kind; errors of no known
// kind are internal server errors.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// FromHTTPStatus returns the kind for an HTTP status, or nil when the status
// has no kind (2xx, 500 and anything unusual).
func FromHTTPStatus(status int) error {
	for _, k := range kinds {
		if k.status == status {
			return k.err
		}
	}
	return nil
}
