package names

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/tenement/tenement/errdefs"
)

// MaxDomainLen is the longest custom domain, in its ASCII (punycode) form.
const MaxDomainLen = 253

// Domain validates a custom domain (a host a customer brings, `ten domain
// add`) and returns it in the one form tenement stores, looks up and asks
// certificates for: ASCII, with internationalized labels in punycode
// (IDNA 2008, the Lookup profile of RFC 5891 §5, as browsers send it and
// autocert converts server names), lowercase, without a trailing dot. It
// must have at least two labels, each 1–63 characters, 253 in all; it must
// not be an IP address or end in a number (which URL parsers read as an
// IPv4 address, "0x7f.1"), nor hold a wildcard.
//
// Whether the name is one tenement may bind (not under its root domain) is
// the caller's to check: this is the form only.
func Domain(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: domain %q: %s", errdefs.ErrInvalid, s, why)
	}
	d := strings.TrimSuffix(s, ".")
	switch {
	case d == "":
		return bad("is empty")
	case strings.Contains(d, "*"):
		return bad("wildcards are not allowed; bind each name")
	case isIP(d):
		return bad("is an IP address; want a DNS name")
	case strings.Contains(d, "://") || strings.ContainsAny(d, "/:@"):
		return bad("want a host name alone, without scheme, port or path")
	case !utf8.ValidString(d):
		return bad("not valid UTF-8")
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err == nil {
		// The stored form must be its own normal form: what the proxy
		// and autocert look up.
		if again, aerr := idna.Lookup.ToASCII(ascii); aerr != nil || again != ascii {
			err = fmt.Errorf("its punycode form %q does not check out", ascii)
		}
	}
	if err != nil {
		return bad("not a valid DNS name (" + err.Error() + ")")
	}
	if len(ascii) > MaxDomainLen {
		return bad(fmt.Sprintf("is %d characters, more than %d", len(ascii), MaxDomainLen))
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return bad("want at least two labels, such as example.com")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return bad("want labels of 1–63 characters")
		}
	}
	if endsInNumber(labels[len(labels)-1]) {
		return bad("ends in a number, which is read as an IP address")
	}
	return ascii, nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

// endsInNumber reports whether the last label is a number as the WHATWG URL
// parser sees one (decimal digits, or 0x and hex digits): such a host is
// parsed as an IPv4 address, never looked up in DNS.
func endsInNumber(label string) bool {
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return strings.Trim(label, "0123456789") == ""
}
