package units

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestCheckCredentialName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"db_password", true},
		{"api-key.v2", true},
		{"A1", true},
		{".hidden", true},
		{strings.Repeat("x", 255), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", 256), false},
		{"a/b", false},
		{"../alice/secret", false},
		{"a b", false},
		{"a:b", false}, // LoadCredential= separates name and path with ":"
		{"a\x00b", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := CheckCredentialName(tt.name)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errdefs.ErrInvalid)) {
			t.Errorf("CheckCredentialName(%q) = %v, want ok=%t", tt.name, err, tt.ok)
		}
	}
}
