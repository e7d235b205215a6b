package devidp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// DefaultTokenLifetime is the lifetime of access and ID tokens.
const DefaultTokenLifetime = 15 * time.Minute

const maxRequestBody = 64 << 10

// Config configures the provider.
type Config struct {
	// DataDir holds the provider's files under DataDir/dev.
	DataDir string
	// Issuer is the full https URL the provider is reached at, including
	// its path prefix, e.g. https://127.0.0.1:9443/dev-idp. Handler expects
	// request paths that start with the issuer's path.
	Issuer string
	// Log receives the provider's events; passwords and secrets are never
	// logged. Nil discards.
	Log *slog.Logger
	// TokenLifetime of access and ID tokens; zero means 15 minutes.
	TokenLifetime time.Duration
	// RedirectURIs are extra exact redirect URIs for the public client, for
	// a web UI reached under a non-loopback host. Loopback redirect URIs
	// with the paths in DefaultRedirectPaths are always accepted, on any port.
	RedirectURIs []string
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty"))
	}
	if err := op.ValidateIssuer(c.Issuer, false); err != nil {
		errs = append(errs, fmt.Errorf("issuer %q: %w", c.Issuer, err))
	}
	if c.TokenLifetime < 0 || c.TokenLifetime > 24*time.Hour {
		errs = append(errs, fmt.Errorf("token lifetime %s: want between 1s and 24h", c.TokenLifetime))
	} else if c.TokenLifetime != 0 && c.TokenLifetime < time.Second {
		errs = append(errs, fmt.Errorf("token lifetime %s: want between 1s and 24h", c.TokenLifetime))
	}
	for _, u := range c.RedirectURIs {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" || p.Fragment != "" {
			errs = append(errs, fmt.Errorf("redirect URI %q: want an absolute https URL without fragment", u))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("devidp config: %w", errors.Join(errs...))
	}
	return nil
}

// Credentials are the bootstrap credentials New writes to
// DataDir/dev/credentials.json (mode 0600).
type Credentials struct {
	Issuer   string            `json:"issuer"`
	TokenURL string            `json:"token_url"`
	Admin    UserCredentials   `json:"admin"`
	CI       ClientCredentials `json:"ci"`
}

// UserCredentials log in a user.
type UserCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ClientCredentials authenticate a confidential client.
type ClientCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// LogValue keeps the password and the secret out of logs.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", c.Issuer),
		slog.String("token_url", c.TokenURL),
		slog.String("admin", c.Admin.Username),
		slog.String("ci_client_id", c.CI.ClientID),
	)
}

// Provider is a running development OpenID provider.
type Provider struct {
	issuer  string
	prefix  string
	op      *op.Provider
	handler http.Handler
	creds   Credentials
}

// New opens the provider's store under cfg.DataDir. On first start it
// generates the signing key, the admin user and the edgeway-ci client with
// random credentials, and writes credentials.json; later starts reuse them.
// ctx bounds the start-up only.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	log := cfg.Log.With("component", "devidp")
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	iu, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("devidp: issuer: %w", err)
	}
	prefix := iu.Path

	p := &Provider{issuer: issuer, prefix: prefix}
	public := newPublicClient(cfg.RedirectURIs, func(id string) string {
		return prefix + loginPath + "?authRequestID=" + url.QueryEscape(id)
	}, cfg.TokenLifetime)

	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:]) // encrypts authorization codes; per process
	opConfig := &op.Config{
		CryptoKey:                cryptoKey,
		CryptoKeyId:              "devidp",
		DefaultLogoutRedirectURI: prefix + loggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     deviceCodeTTL,
			PollInterval: devicePoll,
			UserFormPath: prefix + devicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	tokenURL := op.DefaultEndpoints.Token.Absolute(issuer)

	dir, st, unlock, err := lockState(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, keyCreated, err := loadOrCreateKey(dir)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	if keyCreated {
		log.Info("generated signing key", "path", filepath.Join(dir, keyFile), "kid", key.ID())
	}
	creds, err := bootstrap(dir, st, log)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	creds.Issuer, creds.TokenURL = issuer, tokenURL
	credsPath := filepath.Join(dir, credentialsFile)
	b, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("devidp: encode credentials: %w", err)
	}
	if err := writeFileAtomic(credsPath, append(b, '\n')); err != nil {
		return nil, fmt.Errorf("devidp: write credentials: %w", err)
	}
	p.creds = creds

	store := newStorage(newStateCache(cfg.DataDir), key, public, cfg.TokenLifetime, log)
	p.op, err = op.NewProvider(opConfig, store, op.StaticIssuer(issuer),
		op.WithCORSOptions(corsOptions(iu)),
	)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}

	pg := &pages{store: store, prefix: prefix, callback: op.AuthCallbackURL(p.op), log: log}
	issuerCtx := op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	csrf := http.NewCrossOriginProtection()
	mux := http.NewServeMux()
	pg.routes(mux, func(h http.Handler) http.Handler { return csrf.Handler(issuerCtx.Handler(h)) })
	mux.Handle("/", publicClientBasicAuth(p.op))
	p.handler = p.prefixed(mux)

	log.Info("dev identity provider ready", "issuer", issuer, "credentials_file", credsPath)
	return p, nil
}

// bootstrap makes sure the admin user and the CI client exist and that
// credentials.json holds their working credentials: it creates them on
// first start, keeps them when the file still matches, and resets a
// password or secret whose plaintext is no longer known (the store keeps
// only hashes). The caller holds the state lock.
func bootstrap(dir string, st *state, log *slog.Logger) (Credentials, error) {
	var prev Credentials
	if b, err := os.ReadFile(filepath.Join(dir, credentialsFile)); err == nil {
		_ = json.Unmarshal(b, &prev) // unreadable counts as missing
	}
	creds := Credentials{
		Admin: UserCredentials{Username: AdminUser},
		CI:    ClientCredentials{ClientID: CIClientID},
	}
	changed := false
	now := time.Now().UTC()

	switch u := st.Users[AdminUser]; {
	case u == nil:
		creds.Admin.Password = newPassword()
		hash, err := hashSecret(creds.Admin.Password)
		if err != nil {
			return Credentials{}, err
		}
		st.Users[AdminUser] = &userRecord{ID: newID(), PasswordHash: hash, Admin: true, Created: now}
		changed = true
		log.Info("created platform admin user", "username", AdminUser)
	case prev.Admin.Username == AdminUser && checkSecret(u.PasswordHash, prev.Admin.Password):
		creds.Admin.Password = prev.Admin.Password
	default:
		creds.Admin.Password = newPassword()
		hash, err := hashSecret(creds.Admin.Password)
		if err != nil {
			return Credentials{}, err
		}
		u.PasswordHash = hash
		changed = true
		log.Warn("credentials file missing or stale: reset the admin password", "username", AdminUser)
	}

	switch c := st.Clients[CIClientID]; {
	case c == nil:
		creds.CI.ClientSecret = newClientSecret()
		hash, err := hashSecret(creds.CI.ClientSecret)
		if err != nil {
			return Credentials{}, err
		}
		st.Clients[CIClientID] = &clientRecord{ServiceAccountID: newID(), SecretHash: hash, Created: now}
		changed = true
		log.Info("created CI client", "client_id", CIClientID)
	case prev.CI.ClientID == CIClientID && checkSecret(c.SecretHash, prev.CI.ClientSecret):
		creds.CI.ClientSecret = prev.CI.ClientSecret
	default:
		creds.CI.ClientSecret = newClientSecret()
		hash, err := hashSecret(creds.CI.ClientSecret)
		if err != nil {
			return Credentials{}, err
		}
		c.SecretHash = hash
		changed = true
		log.Warn("credentials file missing or stale: reset the CI client secret", "client_id", CIClientID)
	}

	if changed {
		if err := saveState(dir, st); err != nil {
			return Credentials{}, err
		}
	}
	return creds, nil
}

// corsOptions allow the token, userinfo, keys and discovery endpoints to be
// called from scripts of the issuer's own origin and of loopback origins (a
// web UI dev server); no credentials (cookies) are involved.
func corsOptions(issuer *url.URL) *cors.Options {
	self := issuer.Scheme + "://" + issuer.Host
	return &cors.Options{
		AllowOriginFunc: func(origin string) bool {
			if origin == self {
				return true
			}
			u, err := url.Parse(origin)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return false
			}
			h := u.Hostname()
			ip := net.ParseIP(h)
			return h == "localhost" || (ip != nil && ip.IsLoopback())
		},
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost},
		AllowedHeaders: []string{"Accept", "Authorization", "Content-Type"},
	}
}

// prefixed serves h for paths under the issuer's path, with the prefix
// stripped, and bounds request bodies.
func (p *Provider) prefixed(h http.Handler) http.Handler {
	inner := h
	if p.prefix != "" {
		inner = http.StripPrefix(p.prefix, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.prefix != "" && !strings.HasPrefix(r.URL.Path, p.prefix+"/") {
			http.NotFound(w, r)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		}
		inner.ServeHTTP(w, r)
	})
}

// publicClientBasicAuth moves the public client's id from an HTTP Basic
// header with an empty password into the client_id form parameter, where
// RFC 6749 section 2.3.1 and RFC 8628 put it for clients without a secret.
// golang.org/x/oauth2 sends Basic first and then caches what worked, so a
// CLI that exchanged a code with Basic would otherwise fail the device
// grant, which op authenticates strictly.
func publicClientBasicAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok && pass == "" && r.Method == http.MethodPost {
			if id, err := url.QueryUnescape(user); err == nil && id == PublicClientID {
				if err := r.ParseForm(); err != nil {
					http.Error(w, "cannot parse form", http.StatusBadRequest)
					return
				}
				if got := r.PostForm.Get("client_id"); got == "" || got == id {
					r.Header.Del("Authorization")
					r.PostForm.Set("client_id", id)
					r.Form.Set("client_id", id)
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Handler serves the provider. It expects request paths that start with
// the issuer's path (e.g. /dev-idp/...) and answers 404 for others; mount
// it as mux.Handle("/dev-idp/", p.Handler()).
func (p *Provider) Handler() http.Handler { return p.handler }

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// Credentials returns the bootstrap credentials (the admin password and the
// CI client secret in clear). Do not log them.
func (p *Provider) Credentials() Credentials { return p.creds }
