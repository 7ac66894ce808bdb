package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// TestRequests: each method of the client sends the request of its route
// (docs/api.md), with the body the daemon reads.
func TestRequests(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.URL.RequestURI() + " " + strings.TrimSpace(string(body))
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/tokens") && r.Method == http.MethodGet || r.URL.Path == "/api/audit" ||
			r.URL.Path == "/api/domains" && r.Method == http.MethodGet ||
			r.URL.Path == "/api/credentials/notes:alice" && r.Method == http.MethodGet {
			io.WriteString(w, "[]")
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	c, err := New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := names.Instance{Service: "notes", ID: "alice"}
	target := apitype.CredentialTarget{Service: "notes", ID: "alice"}
	for _, tc := range []struct {
		want string
		call func() error
	}{
		{`GET /api/instances/notes:alice `, func() error { _, err := c.Instance(ctx, n); return err }},
		{`POST /api/instances {"instances":["notes:alice","notes:bob"]}`,
			func() error { _, err := c.Create(ctx, []names.Instance{n, {Service: "notes", ID: "bob"}}); return err }},
		{`POST /api/instances/spawn {"service":"notes","id":"alice"}`, func() error { _, err := c.Spawn(ctx, n); return err }},
		{`POST /api/instances/notes:alice/stop `, func() error { return c.Stop(ctx, n) }},
		{`POST /api/instances/notes:alice/restart `, func() error { _, err := c.Restart(ctx, n); return err }},
		{`POST /api/instances/notes:alice/delete {"purge":true}`, func() error { return c.Delete(ctx, n, true) }},
		{`PUT /api/instances/notes:alice/weight {"weight":30}`, func() error { _, err := c.SetWeight(ctx, n, 30); return err }},
		{`GET /api/instances/notes:alice/health `, func() error { _, err := c.Health(ctx, n); return err }},
		{`GET /api/instances/notes:alice/storage `, func() error { _, err := c.Storage(ctx, n); return err }},
		{`POST /api/instances/notes:alice/keep-awake {"for":"2h0m0s"}`, func() error { _, err := c.KeepAwake(ctx, n, 2*time.Hour); return err }},
		{`POST /api/deploy {"service":"notes","version":"alice","weight":10,"timeout":90}`,
			func() error { _, err := c.Deploy(ctx, n, 10, 90*time.Second); return err }},
		{`POST /api/route {"service":"notes","from":"v1","to":"v2"}`, func() error { _, err := c.Route(ctx, "notes", "v1", "v2"); return err }},
		{`POST /api/instances {"instances":["notes:alice"],"host":"h2"}`,
			func() error { _, err := c.CreateOn(ctx, []names.Instance{n}, "h2"); return err }},
		{`POST /api/instances/spawn {"service":"notes","id":"alice","host":"h2"}`, func() error { _, err := c.SpawnOn(ctx, n, "h2"); return err }},
		{`POST /api/instances/notes:alice/move {"to":"h3"}`, func() error { _, err := c.Move(ctx, n, "h3", false); return err }},
		{`POST /api/instances/notes:alice/move {"to":"h3","without_data":true}`, func() error { _, err := c.Move(ctx, n, "h3", true); return err }},
		{`PUT /api/instances/notes:alice/data TAR`, func() error { _, err := c.PutData(ctx, n, strings.NewReader("TAR")); return err }},
		{`DELETE /api/instances/notes:alice/data `, func() error { return c.DropData(ctx, n) }},
		{`POST /api/hosts/h1/drain `, func() error { _, err := c.Drain(ctx, "h1"); return err }},
		{`POST /api/config/reload `, func() error { _, err := c.ReloadConfig(ctx); return err }},
		{`POST /api/services/notes/restart `, func() error { _, err := c.RestartService(ctx, "notes"); return err }},
		{`GET /api/tokens `, func() error { _, err := c.Tokens(ctx); return err }},
		{`POST /api/tokens {"tenant":"alice","description":"ci"}`, func() error { _, err := c.CreateToken(ctx, "alice", "ci"); return err }},
		{`DELETE /api/tokens/3f2a9c1b7d4e `, func() error { return c.RevokeToken(ctx, "3f2a9c1b7d4e") }},
		{`GET /api/audit?limit=5 `, func() error { _, err := c.Audit(ctx, 5); return err }},
		{`GET /api/credentials/notes:alice `, func() error { _, err := c.Credentials(ctx, target); return err }},
		{`PUT /api/credentials/notes:alice/DB_PASSWORD s3cret`, func() error { _, err := c.SetCredential(ctx, target, "DB_PASSWORD", []byte("s3cret")); return err }},
		{`GET /api/domains `, func() error { _, err := c.Domains(ctx, names.Instance{}); return err }},
		{`GET /api/domains?instance=notes%3Aalice `, func() error { _, err := c.Domains(ctx, n); return err }},
		{`POST /api/domains {"instance":"notes:alice","domain":"alice.example"}`,
			func() error { _, err := c.AddDomain(ctx, n, "alice.example", false); return err }},
		{`POST /api/domains {"instance":"notes:alice","domain":"alice.example","move":true}`,
			func() error { _, err := c.AddDomain(ctx, n, "alice.example", true); return err }},
		{`DELETE /api/domains/alice.example `, func() error { return c.RemoveDomain(ctx, "alice.example") }},
		{`DELETE /api/credentials/notes/API_KEY `, func() error { return c.RemoveCredential(ctx, apitype.CredentialTarget{Service: "notes"}, "API_KEY") }},
	} {
		got = ""
		if err := tc.call(); err != nil || got != tc.want {
			t.Errorf("sent %q (%v), want %q", got, err, tc.want)
		}
	}
}

// TestPeerHeader: a peer client sends its header with every request, and
// no bearer token.
func TestPeerHeader(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	c, err := NewPeer(srv.URL, http.DefaultTransport, http.Header{apitype.HopHeader: {"h1 s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(context.Background(), names.Instance{Service: "notes", ID: "a"}, "h2", false); err != nil {
		t.Fatal(err)
	}
	if got.Get(apitype.HopHeader) != "h1 s3cret" || got.Get("Authorization") != "" {
		t.Errorf("sent %v", got)
	}
}
