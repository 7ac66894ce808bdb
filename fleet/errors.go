package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/tenement/tenement/errdefs"
)

// unreachableError is a write that etcd did not answer: one line,
// "fleet: etcd unreachable: OP: CAUSE", of kind errdefs.ErrUnavailable.
type unreachableError struct {
	op    string
	cause error
}

func (e *unreachableError) Error() string {
	return "fleet: etcd unreachable: " + e.op + ": " + oneLine(e.cause)
}

func (e *unreachableError) Unwrap() []error { return []error{errdefs.ErrUnavailable, e.cause} }

// errNoConnection is the cause of a write refused without trying: the
// client has no connection to any endpoint.
var errNoConnection = errors.New("no connection to any endpoint")

// oneLine shortens a gRPC error to its description, on one line.
func oneLine(err error) string {
	msg := err.Error()
	if st, ok := status.FromError(err); ok && st.Message() != "" {
		msg = st.Message()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "no answer in time"
	}
	return strings.Join(strings.Fields(msg), " ")
}

// unreachable reports whether err means that etcd could not be reached
// (or could not commit: no leader, a server-side timeout).
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errNoConnection) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// writeErr wraps the error of a write: unreachableError when etcd did not
// answer (and the caller had not given up), else the error with op.
func writeErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && unreachable(err) {
		return &unreachableError{op: op, cause: err}
	}
	return fmt.Errorf("fleet: %s: %w", op, err)
}

// write runs a write with the agent's write timeout, failing at once when
// the client has no connection: a caller (an API request, a CLI) then gets
// an answer now instead of after the timeout.
func (a *Agent) write(ctx context.Context, op string, f func(ctx context.Context) error) error {
	if a.cli.ActiveConnection().GetState() == connectivity.TransientFailure {
		return &unreachableError{op: op, cause: errNoConnection}
	}
	wctx, cancel := context.WithTimeout(ctx, a.opts.WriteTimeout)
	defer cancel()
	return writeErr(ctx, op, f(wctx))
}
