package api

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/journal"
)

// blockingLogs follows forever: a stream ends only when its context does.
type blockingLogs struct{}

func (blockingLogs) Read(context.Context, journal.Query) ([]journal.Entry, error) { return nil, nil }
func (blockingLogs) Follow(ctx context.Context, _ journal.Query, _ func(journal.Entry) error) error {
	<-ctx.Done()
	return nil
}

// openStream opens a log stream and returns a channel closed when it ends,
// with what it read.
func (a *testAPI) openStream(t *testing.T, token string) (ended <-chan string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+"/api/logs/stream?instance=notes:alice", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %s", resp.Status)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ": streaming") {
		t.Fatalf("stream began with %q %v", line, err)
	}
	done := make(chan string)
	go func() {
		var b strings.Builder
		for {
			line, err := br.ReadString('\n')
			b.WriteString(line)
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		done <- b.String()
		close(done)
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return done
}

// TestRevokeEndsStreams: revoking a token ends the log streams it opened
// at once, with an error event saying why; the streams of the tenant's
// other token and of an admin stay open.
func TestRevokeEndsStreams(t *testing.T) {
	a := newTestAPI(t, "notes:alice")
	a.srv.Logs = blockingLogs{}
	admin, _ := a.token(t, "")
	laptop, laptopTok := a.token(t, "alice")
	phone, _ := a.token(t, "alice")
	revoked := []<-chan string{a.openStream(t, laptop), a.openStream(t, laptop)}
	kept := []<-chan string{a.openStream(t, phone), a.openStream(t, admin)}

	start := time.Now()
	if status, _, body := a.call(t, http.MethodDelete, "/api/tokens/"+laptopTok.ID, admin, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", status, body)
	}
	for i, ended := range revoked {
		select {
		case rest := <-ended:
			took := time.Since(start)
			t.Logf("stream %d ended %v after the revocation", i, took)
			if took > time.Second || !strings.Contains(rest, "event: error") || !strings.Contains(rest, "revoked") {
				t.Errorf("stream %d ended after %v with %q", i, took, rest)
			}
		case <-time.After(time.Second):
			t.Fatalf("stream %d of the revoked token is still open 1s after the revocation", i)
		}
	}
	for i, ended := range kept {
		select {
		case rest := <-ended:
			t.Errorf("stream %d of another token ended: %q", i, rest)
		case <-time.After(200 * time.Millisecond):
		}
	}
	a.srv.streams.mu.Lock()
	n := len(a.srv.streams.byToken)
	a.srv.streams.mu.Unlock()
	if n != 2 {
		t.Errorf("%d tokens with open streams, want 2", n)
	}
}

// TestStreamOfTokenRevokedWhileChecked: a token revoked after it was
// checked and before its stream registered gets no stream.
func TestStreamOfTokenRevokedWhileChecked(t *testing.T) {
	a := newTestAPI(t, "notes:alice")
	a.srv.Logs = blockingLogs{}
	secret, tok := a.token(t, "alice")
	check := a.srv.Authenticate
	a.srv.Authenticate = func(r *http.Request) (Identity, error) {
		id, err := check(r)
		if err == nil {
			_, err = a.st.RevokeToken(tok.ID) // revoked between the check and the stream
		}
		return id, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/api/logs/stream?instance=notes:alice", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "revoked") {
		t.Fatalf("stream of a token revoked meanwhile: %s %s", resp.Status, body)
	}
}
