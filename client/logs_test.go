package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

func TestFollowLogsReadsServerSentEvents(t *testing.T) {
	var gotQuery, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery, gotAuth = r.URL.RawQuery, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": streaming\n\n")
		fmt.Fprint(w, `data: {"instance":"notes:alice","message":"one"}`+"\n\n")
		fmt.Fprint(w, ": keep-alive\n\n")
		fmt.Fprint(w, `data: {"instance":"notes:alice",`+"\n"+`data: "message":"two"}`+"\n\n")
		fmt.Fprint(w, "event: error\n"+`data: {"error":"journal went away"}`+"\n\n")
	}))
	defer srv.Close()
	c, err := New(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	err = c.FollowLogs(context.Background(), LogQuery{Instance: names.Instance{Service: "notes", ID: "alice"}, Lines: 5, Grep: "a|b"},
		func(e apitype.LogEntry) error {
			msgs = append(msgs, e.Message)
			return nil
		})
	if err == nil || !strings.Contains(err.Error(), "journal went away") {
		t.Errorf("error event: %v", err)
	}
	if strings.Join(msgs, ",") != "one,two" {
		t.Errorf("messages %v", msgs)
	}
	if gotQuery != "grep=a%7Cb&instance=notes%3Aalice&lines=5" || gotAuth != "Bearer tok" {
		t.Errorf("query %q, auth %q", gotQuery, gotAuth)
	}
}

func TestErrorAnswersKeepTheirKind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":"too many requests: slow down"}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "")
	_, err := c.Tokens(context.Background())
	if err == nil || err.Error() != "too many requests: slow down" || !errors.Is(err, errdefs.ErrRateLimited) {
		t.Errorf("err = %v", err)
	}
}
