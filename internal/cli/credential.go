package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/client"
)

func (a *app) credentialCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "credential",
		Aliases: []string{"credentials"},
		Short:   "Manage the secrets instances read from $CREDENTIALS_DIRECTORY (admin)",
		Long: `Secrets reach an app as systemd credentials: the file
$CREDENTIALS_DIRECTORY/NAME, readable by that instance only. A credential
of a service (SERVICE) goes to every instance of it; one of an instance
(SERVICE:ID) to that instance only, and wins over the service's of the same
name. The daemon keeps them in settings.credentials_dir, root-only.

A changed or removed credential reaches an instance at its next start
(ten restart SERVICE:ID, or its next wake).

Use credentials, not [service.X.env], for passwords and keys: env values are
the unit's Environment=, which any local user can read over D-Bus.`,
	}
	cmd.AddCommand(a.credentialSetCmd(), a.credentialListCmd(), a.credentialRmCmd())
	return cmd
}

func (a *app) credentialSetCmd() *cobra.Command {
	var fromFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "set SERVICE[:ID] NAME",
		Short: "Set a credential from stdin (or --from-file); the value is taken byte for byte",
		Long: `Set a credential. The value is read from stdin, or from --from-file, byte
for byte, at most 1 MiB: a trailing newline is part of it (printf '%s' "$X"
sends none). NAME is 1–255 letters, digits, _, - and .`,
		Args: exactArgs(2, "SERVICE[:ID] and a credential NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := apitype.ParseCredentialTarget(args[0])
			if err != nil {
				return err
			}
			name := args[1]
			if err := apitype.ValidateCredentialName(name); err != nil {
				return err
			}
			value, err := a.readSecret(fromFile)
			if err != nil {
				return err
			}
			defer clear(value)
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				r, err := c.SetCredential(ctx, t, name, value)
				return a.print(err, asJSON, r, func() error {
					a.Printf("Set credential %s of %s (%d bytes). %s\n", name, t, r.Size, appliesAt(t))
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the value from this file instead of stdin")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// appliesAt says when a change reaches a target's instances.
func appliesAt(t apitype.CredentialTarget) string {
	if n, ok := t.Instance(); ok {
		return fmt.Sprintf("It applies at %s's next start (ten restart %s).", n, n)
	}
	return fmt.Sprintf("It applies to each instance of %s at its next start (ten restart %s:ID).", t, t)
}

// readSecret reads a value from a file or stdin, refusing more than
// apitype.MaxCredentialSize bytes.
func (a *app) readSecret(file string) ([]byte, error) {
	r := a.Stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("credential: %w", err)
		}
		defer f.Close()
		r = f
	} else if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(a.Stderr, "Type the value, then Ctrl-D (a newline you type is part of it):")
		}
	}
	value, err := io.ReadAll(io.LimitReader(r, apitype.MaxCredentialSize+1))
	if err != nil {
		return nil, fmt.Errorf("credential: read the value: %w", err)
	}
	if len(value) > apitype.MaxCredentialSize {
		clear(value)
		return nil, apitype.ErrCredentialTooLarge
	}
	return value, nil
}

func (a *app) credentialListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list SERVICE[:ID]",
		Aliases: []string{"ls"},
		Short:   "List credentials: names, sizes, times and scopes, never values",
		Long: `List the credentials of a service, or what an instance receives: its own
(scope instance) and its service's that it does not override (scope
service). Values are never shown.`,
		Args: exactArgs(1, "SERVICE[:ID]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := apitype.ParseCredentialTarget(args[0])
			if err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.Credentials(ctx, t)
				return a.print(err, asJSON, list, func() error {
					return a.table(len(list), "No credentials for "+t.String(), []string{"NAME", "SCOPE", "SIZE", "MODIFIED"},
						func(i int) []string {
							c := list[i]
							return []string{c.Name, c.Scope, strconv.FormatInt(c.Size, 10), c.Modified.Local().Format(time.DateTime)}
						})
				})
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) credentialRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm SERVICE[:ID] NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a credential; running instances keep it until their next start",
		Args:    exactArgs(2, "SERVICE[:ID] and a credential NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := apitype.ParseCredentialTarget(args[0])
			if err != nil {
				return err
			}
			if err := apitype.ValidateCredentialName(args[1]); err != nil {
				return err
			}
			return a.ask(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.RemoveCredential(ctx, t, args[1]); err != nil {
					return err
				}
				a.Printf("Removed credential %s of %s. %s\n", args[1], t, appliesAt(t))
				return nil
			})
		},
	}
}
