package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/tenement/tenement/errdefs"
)

// Log streams never end by themselves, so the server keeps track of them:
// to bound how many are open (in all and per caller), to end them all at
// shutdown (CloseStreams), and to end the streams of a token when it is
// revoked. A revoked token must not keep reading a tenant's logs through a
// stream it opened before: the check at the start of a request is not
// enough for a request that lasts for days.
//
// Revocation looks only at the revoked token's own streams (a map from
// token id to its streams), never at every open stream, so its cost does
// not grow with the number of tokens or streams.

// errRevoked is the cause of a stream ended by its token's revocation.
var errRevoked = fmt.Errorf("%w: the token was revoked", errdefs.ErrUnauthorized)

// streams bounds and tracks the open log streams.
type streams struct {
	mu      sync.Mutex
	total   int
	caller  map[string]int                  // open streams per Identity.Actor
	byToken map[string]map[*stream]struct{} // open streams per token id
}

// stream is one open log stream.
type stream struct {
	id     Identity
	cancel context.CancelCauseFunc
}

// open registers a stream of id that cancel ends, or refuses it when too
// many are open.
func (l *streams) open(id Identity, cancel context.CancelCauseFunc) (*stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= maxStreams {
		return nil, fmt.Errorf("%w: too many open log streams (%d)", errdefs.ErrUnavailable, maxStreams)
	}
	if l.caller[id.Actor] >= maxStreamsPerCaller {
		return nil, fmt.Errorf("%w: too many open log streams for %s (%d)", errdefs.ErrRateLimited, id.Actor, maxStreamsPerCaller)
	}
	if l.caller == nil {
		l.caller, l.byToken = map[string]int{}, map[string]map[*stream]struct{}{}
	}
	st := &stream{id: id, cancel: cancel}
	l.total++
	l.caller[id.Actor]++
	if id.TokenID != "" {
		if l.byToken[id.TokenID] == nil {
			l.byToken[id.TokenID] = map[*stream]struct{}{}
		}
		l.byToken[id.TokenID][st] = struct{}{}
	}
	return st, nil
}

// close forgets a stream that ended.
func (l *streams) close(st *stream) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.caller[st.id.Actor]--; l.caller[st.id.Actor] <= 0 {
		delete(l.caller, st.id.Actor)
	}
	if set := l.byToken[st.id.TokenID]; set != nil {
		delete(set, st)
		if len(set) == 0 {
			delete(l.byToken, st.id.TokenID)
		}
	}
}

// revoke ends the open streams of a token and returns how many there were.
// Their handlers close them.
func (l *streams) revoke(tokenID string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.byToken[tokenID]
	for st := range set {
		st.cancel(errRevoked)
	}
	return len(set)
}
