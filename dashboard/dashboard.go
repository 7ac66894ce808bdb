// Package dashboard serves tenement's web dashboard: one page and its
// assets, embedded in the binary (plain HTML, CSS and JavaScript; no CDN,
// no external fonts, no build step), so it works offline.
//
// The page and its assets load without a token. Everything the page shows
// comes from the management API, with the bearer token the user signs in
// with (kept in the tab's sessionStorage): an admin sees and acts on every
// instance, a tenant sees only its own. The daemon serves the dashboard on
// the root domain at / and /assets/, and the API behind it.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// securityHeaders go on every answer: scripts and styles only from the
// daemon itself (no inline code, so an injected string cannot run), no
// framing (the page has buttons that stop instances), no referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

type file struct {
	name string
	body []byte
	etag string
}

// eachFile calls f with the path and contents of every embedded file.
func eachFile(f func(p string, b []byte) error) error {
	return fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		return f(p, b)
	})
}

// Handler serves the page at / and its files under /assets/; other paths
// are 404. Route only those two to it.
func Handler() http.Handler {
	files := map[string]file{}
	err := eachFile(func(p string, b []byte) error {
		sum := sha256.Sum256(b)
		url := strings.TrimPrefix(p, "static")
		files[url] = file{name: path.Base(p), body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: embedded files: " + err.Error()) // cannot happen: they are compiled in
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/" {
			p = "/index.html"
		}
		f, ok := files[p]
		if !ok || !(p == "/index.html" || strings.HasPrefix(p, "/assets/")) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, v := range securityHeaders {
			h.Set(k, v)
		}
		// Revalidate every time: the files are small, their names carry
		// no version, and an upgraded daemon must not serve a stale page.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
	})
}
