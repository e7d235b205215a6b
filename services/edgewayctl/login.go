package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"edgeway.dev/services/edgewayctl/internal/auth"
)

func loginCmd(g *globals) *cobra.Command {
	var device, browser bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in through the server's identity provider and cache the tokens",
		Long: `login asks the server (GET /.well-known/edgeway) for its OIDC issuer and client
id and logs you in:

  --browser  authorization code with PKCE: a browser opens the provider's login
             page and returns to http://127.0.0.1:PORT/callback (the default when
             a browser is available: $BROWSER, a desktop session, macOS, Windows);
  --device   device authorization: visit the printed URL on any device and enter
             the code (the default otherwise, e.g. over SSH).

The tokens are cached with mode 0600 in tokens.json next to the config file and
refreshed with the refresh token when they expire. --endpoint and --ca-file given
to login are saved in the config file, so later commands need neither.`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if device && browser {
				return errors.New("give --device or --browser, not both")
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			p, err := g.identityProvider(ctx)
			if err != nil {
				return err
			}
			var tok *oauth2.Token
			if browser || (!device && browserAvailable()) {
				tok, err = auth.BrowserLogin(ctx, p, g.stderr, openBrowser)
			} else {
				tok, err = auth.DeviceLogin(ctx, p, cfg.Endpoint, g.stderr)
			}
			if err != nil {
				return err
			}
			sess, err := auth.NewSession(ctx, p, tok)
			if err != nil {
				return err
			}
			cache := &auth.Cache{Path: cfg.TokenCachePath()}
			unlock, err := cache.Lock()
			if err != nil {
				return err
			}
			err = cache.Put(cfg.Endpoint, sess)
			unlock()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("endpoint") || cmd.Flags().Changed("ca-file") || !cfg.Loaded {
				if err := cfg.SaveEndpoint(cfg.Endpoint, cfg.CAFile); err != nil {
					return err
				}
			}
			who := sess.Username
			if who == "" {
				who = "(unknown user)"
			}
			fmt.Fprintf(g.stdout, "Logged in to %s as %s.\n", cfg.Endpoint, who)
			if cfg.UsesClientCredentials() {
				fmt.Fprintf(g.stderr, "note: client credentials are configured (EDGEWAY_CLIENT_ID or auth.clientID): commands use them, not this login\n")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&device, "device", false, "use the device authorization flow")
	cmd.Flags().BoolVar(&browser, "browser", false, "use a browser (authorization code with PKCE and a loopback redirect)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up when the login is not completed within this time")
	return cmd
}

func logoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "logout",
		Short:             "Forget the cached tokens of the endpoint (and revoke the refresh token)",
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			cache := &auth.Cache{Path: cfg.TokenCachePath()}
			unlock, err := cache.Lock()
			if err != nil {
				return err
			}
			sess, err := cache.Delete(cfg.Endpoint)
			unlock()
			if err != nil {
				return err
			}
			if sess == nil {
				fmt.Fprintf(g.stdout, "Not logged in to %s.\n", cfg.Endpoint)
				return nil
			}
			if p, err := g.identityProvider(cmd.Context()); err == nil {
				if err := auth.Revoke(cmd.Context(), p, sess.RefreshToken); err != nil {
					fmt.Fprintf(g.stderr, "note: could not revoke the refresh token: %v\n", err)
				}
			}
			fmt.Fprintf(g.stdout, "Logged out of %s.\n", cfg.Endpoint)
			return nil
		},
	}
}

// browserAvailable guesses whether a browser can be opened here.
func browserAvailable() bool {
	if os.Getenv("BROWSER") != "" {
		return true
	}
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return false
	}
	_, err := exec.LookPath("xdg-open")
	return err == nil
}

// openBrowser starts $BROWSER (its first entry), or the platform's opener,
// on url without waiting for it.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	if b := os.Getenv("BROWSER"); b != "" {
		cmd = exec.Command(strings.Split(b, string(os.PathListSeparator))[0], url)
	} else {
		switch runtime.GOOS {
		case "darwin":
			cmd = exec.Command("open", url)
		case "windows":
			cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
		default:
			cmd = exec.Command("xdg-open", url)
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
