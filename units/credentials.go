package units

import (
	"fmt"

	"github.com/tenement/tenement/errdefs"
)

// MaxCredentialName is the longest credential name: a file name.
const MaxCredentialName = 255

// CheckCredentialName checks the name of a credential (the file
// {credentials_dir}/{service}[/{id}]/NAME, which the app reads as
// $CREDENTIALS_DIRECTORY/NAME): letters, digits, "_", "-" and ".", at most
// 255 bytes, and not "." or "..". That is a valid file name everywhere and
// a valid systemd credential name, and it never needs quoting.
func CheckCredentialName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxCredentialName {
		return fmt.Errorf("%w: credential name %q: want 1 to %d of letters, digits, _ - . (not . or ..)", errdefs.ErrInvalid, name, MaxCredentialName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%w: credential name %q: %q is not allowed (want letters, digits, _ - .)", errdefs.ErrInvalid, name, c)
		}
	}
	return nil
}
