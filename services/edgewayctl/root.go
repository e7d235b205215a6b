package main

import (
	"context"
	"io"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/auth"
	"edgeway.dev/services/edgewayctl/internal/config"
)

// globals are the persistent flags and what they resolve to, shared by
// every command of one invocation.
type globals struct {
	stdout, stderr io.Writer
	overrides      config.Overrides

	once     sync.Once
	cfg      *config.Config
	cfgErr   error
	hc       *http.Client
	disc     *api.Discovery
	provider *auth.Provider
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "edgewayctl",
		Short: "Command-line client for the Edgeway API",
		Long: `edgewayctl talks to an Edgeway server: it applies emcoctl-style resource files,
logs you in through the server's identity provider, shows the live status of a
deployment and rolls files out from CI.

The server is --endpoint (or EDGEWAY_ENDPOINT, or "endpoint" in the config file,
default https://127.0.0.1:9443); --ca-file adds a CA to the system trust store.
Credentials: the session of "edgewayctl login", or a CI client's
EDGEWAY_CLIENT_ID and EDGEWAY_CLIENT_SECRET.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.Flags().Bool("version", false, "print the version") // no -v: that is --values
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.overrides.Path, "config", "", "config file (env EDGEWAY_CONFIG; default ~/.config/edgeway/config.yaml)")
	pf.StringVar(&g.overrides.Endpoint, "endpoint", "", "Edgeway server URL (env EDGEWAY_ENDPOINT)")
	pf.StringVar(&g.overrides.CAFile, "ca-file", "", "CA certificate to trust besides the system roots (env EDGEWAY_CA_FILE)")
	_ = root.MarkPersistentFlagFilename("config", "yaml", "yml")
	_ = root.MarkPersistentFlagFilename("ca-file", "crt", "pem")

	root.AddCommand(
		applyCmd(g), updateCmd(g), getCmd(g), deleteCmd(g),
		loginCmd(g), logoutCmd(g),
		statusCmd(g), rolloutCmd(g),
	)
	return root
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// config loads and checks the configuration once.
func (g *globals) config() (*config.Config, error) {
	g.once.Do(func() {
		cfg, err := config.Load(g.overrides, nil)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			g.hc, err = api.NewHTTPClient(cfg.CAFile)
		}
		g.cfg, g.cfgErr = cfg, err
	})
	return g.cfg, g.cfgErr
}

// discovery reads the server's discovery document once.
func (g *globals) discovery(ctx context.Context) (*api.Discovery, error) {
	if g.disc != nil {
		return g.disc, nil
	}
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	d, err := api.Discover(ctx, g.hc, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	g.disc = d
	return d, nil
}

// identityProvider discovers the server's identity provider once.
func (g *globals) identityProvider(ctx context.Context) (*auth.Provider, error) {
	if g.provider != nil {
		return g.provider, nil
	}
	d, err := g.discovery(ctx)
	if err != nil {
		return nil, err
	}
	p, err := auth.NewProvider(ctx, g.hc, d)
	if err != nil {
		return nil, err
	}
	g.provider = p
	return p, nil
}

// client returns an API client with the configured token source: client
// credentials when a client id and secret are configured, the cached login
// otherwise.
func (g *globals) client(ctx context.Context) (*api.Client, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	d, err := g.discovery(ctx)
	if err != nil {
		return nil, err
	}
	c := &api.Client{Endpoint: cfg.Endpoint, Prefix: d.API, HTTP: g.hc, UserAgent: "edgewayctl/" + version()}
	if cfg.UsesClientCredentials() {
		p, err := g.identityProvider(ctx)
		if err != nil {
			return nil, err
		}
		secret, err := cfg.ClientSecretValue()
		if err != nil {
			return nil, err
		}
		c.Tokens = auth.ClientCredentialsSource(ctx, p, cfg.Auth.ClientID, secret)
		return c, nil
	}
	cache := &auth.Cache{Path: cfg.TokenCachePath()}
	c.Tokens = auth.SessionSource(ctx, cache, cfg.Endpoint, func() (*auth.Provider, error) { return g.identityProvider(ctx) })
	return c, nil
}
