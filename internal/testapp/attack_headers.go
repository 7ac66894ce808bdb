package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Forged forwarding headers. A tenant reaches the daemon's public listener
// like anyone (on the host network, from loopback) and may claim to be
// someone else in X-Forwarded-For and X-Forwarded-Proto, towards another
// tenant's app or towards the auth throttle. These attacks read, besides
// the common parameters (attack.go):
//
//	daemon   the daemon's public listener, host:port
//	host     the victim's host name ({id}.{service}.{domain})
//	domain   the root domain (the API)
//	forged   the address to claim in X-Forwarded-For
//	front    the front proxy's unix socket
//	n        how many bad tokens to send (default 50)
//
// An attack without its parameters reports "not tried" as blocked; the
// tests that run it check the detail.

func init() {
	register("forge-forwarded-for", forgeForwardedFor)
	register("reach-front-socket", reachFrontSocket)
	register("throttle-admin", throttleAdmin)
}

func param(q map[string][]string, name string) string {
	if v := q[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// oneShot is a client whose every request goes on a new connection; it
// reports the local address of the last one.
func oneShot(local *string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				*local, _, _ = net.SplitHostPort(c.LocalAddr().String())
			}
			return c, err
		},
	}}
}

// forgeForwardedFor asks the victim's /headers through the daemon's public
// listener with a forged X-Forwarded-For and X-Forwarded-Proto. Blocked
// when the victim saw this tenant's own address and plain http.
func forgeForwardedFor(q map[string][]string) (bool, string) {
	daemon, host, forged := param(q, "daemon"), param(q, "host"), param(q, "forged")
	if daemon == "" || host == "" || forged == "" {
		return true, "not tried: needs daemon=, host= and forged="
	}
	var local string
	req, err := http.NewRequest(http.MethodGet, "http://"+daemon+"/headers", nil)
	if err != nil {
		return true, "not tried: " + err.Error()
	}
	req.Host = host
	req.Header.Set("X-Forwarded-For", forged)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := oneShot(&local).Do(req)
	if err != nil {
		return true, "could not reach the daemon: " + err.Error()
	}
	defer resp.Body.Close()
	var seen struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil || resp.StatusCode != http.StatusOK {
		return true, fmt.Sprintf("the victim did not answer: %s %v", resp.Status, err)
	}
	xff, proto := seen.Headers.Get("X-Forwarded-For"), seen.Headers.Get("X-Forwarded-Proto")
	detail := fmt.Sprintf("the victim saw X-Forwarded-For %q, X-Forwarded-Proto %q; this tenant is %s", xff, proto, local)
	return xff == local && proto == "http", detail
}

// reachFrontSocket connects to the front proxy's socket, where forged
// headers would be believed.
func reachFrontSocket(q map[string][]string) (bool, string) {
	path := param(q, "front")
	if path == "" {
		return true, "not tried: needs front="
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return true, "cannot connect to the front socket: " + err.Error()
	}
	c.Close()
	return false, "connected to the front socket " + path
}

// throttleAdmin sends bad tokens to the API with X-Forwarded-For naming
// the admin's address, to get the admin locked out. Then it sends one more
// without the header: if its own address is blocked (429), the failures
// were counted against the tenant itself, and the attack was blocked.
func throttleAdmin(q map[string][]string) (bool, string) {
	daemon, domain, forged := param(q, "daemon"), param(q, "domain"), param(q, "forged")
	if daemon == "" || domain == "" || forged == "" {
		return true, "not tried: needs daemon=, domain= and forged="
	}
	n, err := strconv.Atoi(param(q, "n"))
	if err != nil || n <= 0 {
		n = 50
	}
	var local string
	c := oneShot(&local)
	statuses := map[int]int{}
	send := func(xff string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+daemon+"/api/instances", nil)
		if err != nil {
			return 0, err
		}
		req.Host = domain
		req.Header.Set("Authorization", "Bearer "+badToken())
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for range n {
		code, err := send(forged)
		if err != nil {
			return true, "could not reach the daemon: " + err.Error()
		}
		statuses[code]++
	}
	last, err := send("")
	if err != nil {
		return true, "could not reach the daemon: " + err.Error()
	}
	detail := fmt.Sprintf("%d bad tokens claiming %s: statuses %v; then from %s without the header: %d", n, forged, statuses, local, last)
	return last == http.StatusTooManyRequests, detail
}

// badToken is a well-formed token nobody holds.
func badToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
