package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// maxTokenLen bounds the tokens Verify looks at. Keycloak tokens with many
// groups reach a few KiB.
const maxTokenLen = 32 << 10

// Verifier checks bearer tokens against one OIDC issuer. It is safe for
// concurrent use.
type Verifier struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	now    func() time.Time // replaced by tests
	cfgErr error            // Validate's verdict: a Verifier with a bad config accepts nothing

	mu       sync.Mutex
	state    *discovered // nil until discovery succeeded
	inflight *discovery
}

// discovered is what a successful discovery yields.
type discovered struct {
	idv  *oidc.IDTokenVerifier
	keys *keySet
}

// discovery is an attempt shared by every caller that waits for it.
type discovery struct {
	done  chan struct{}
	state *discovered
	err   error
}

// NewVerifier returns a Verifier for cfg (zero fields take their defaults).
// It does no I/O: the issuer is discovered by the first Verify or Ready.
// Call cfg.Validate first: a Verifier whose configuration is invalid fails
// closed, every Verify and Ready returning ErrUnavailable. log may be nil.
func NewVerifier(cfg Config, log *slog.Logger) *Verifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{cfg: cfg.withDefaults(), log: log, client: httpClient(cfg.HTTPClient), now: time.Now}
	if err := cfg.Validate(); err != nil {
		v.cfgErr = fmt.Errorf("%w: invalid OIDC configuration: %w", ErrUnavailable, err)
		log.Error("oidc: invalid configuration; every token will be refused", "error", err)
	}
	return v
}

// Ready performs discovery if it has not succeeded yet: it fetches the
// issuer's discovery document and its JWKS. A nil error means tokens can be
// verified. A failure is not remembered; the next call tries again.
func (v *Verifier) Ready(ctx context.Context) error {
	_, err := v.await(ctx)
	return err
}

// Verify checks raw and returns the caller's identity. Its errors match
// ErrUnauthenticated (the token is missing or invalid) or ErrUnavailable
// (the issuer could not be discovered yet) and wrap the reason.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	if raw == "" {
		return nil, rejectf("no token")
	}
	if err := checkCompact(raw); err != nil {
		return nil, unauthenticated(err)
	}
	st, err := v.await(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := st.idv.Verify(ctx, raw)
	if err != nil {
		return nil, unauthenticated(err)
	}
	c, err := parseClaims(tok)
	if err != nil {
		return nil, unauthenticated(err)
	}
	if err := c.checkTimes(v.now(), v.cfg.Leeway); err != nil {
		return nil, unauthenticated(err)
	}
	if tok.Subject == "" {
		return nil, rejectf("token has no subject")
	}
	id := &Identity{
		Subject:  tok.Subject,
		Username: c.str(v.cfg.UsernameClaim),
		ClientID: c.str("azp"),
		Roles:    c.strs(v.cfg.RolesClaim),
		Groups:   c.strs(v.cfg.GroupsClaim),
		Token:    raw,
	}
	for _, r := range id.Roles {
		if r == v.cfg.AdminRole {
			id.Admin = true
			break
		}
	}
	return id, nil
}

// checkCompact accepts only the compact JWS form: three base64url parts.
// (go-jose would also parse the JSON serialization.)
func checkCompact(raw string) error {
	if len(raw) > maxTokenLen {
		return fmt.Errorf("token longer than %d bytes", maxTokenLen)
	}
	if strings.Count(raw, ".") != 2 {
		return errors.New("token is not a compact JWS")
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("token has characters outside base64url")
		}
	}
	return nil
}

// await returns the discovery result, performing discovery if needed.
func (v *Verifier) await(ctx context.Context) (*discovered, error) {
	if v.cfgErr != nil {
		return nil, v.cfgErr
	}
	v.mu.Lock()
	if st := v.state; st != nil {
		v.mu.Unlock()
		return st, nil
	}
	d := v.inflight
	if d == nil {
		d = &discovery{done: make(chan struct{})}
		v.inflight = d
		go v.discover(d)
	}
	v.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for OIDC discovery: %w", ErrUnavailable, ctx.Err())
	case <-d.done:
		return d.state, d.err
	}
}

// discover runs one discovery attempt; its context is its own, so a caller
// that gives up does not spoil the attempt for the others.
func (v *Verifier) discover(d *discovery) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*fetchTimeout)
	defer cancel()
	st, err := v.discoverOnce(ctx)
	if err != nil {
		err = fmt.Errorf("%w: OIDC discovery of %s: %w", ErrUnavailable, v.cfg.Issuer, err)
		v.log.Warn("oidc: discovery failed; the next request retries", "issuer", v.cfg.Issuer, "error", err)
	} else {
		v.log.Info("oidc: issuer discovered", "issuer", v.cfg.Issuer, "jwks_uri", st.keys.url)
	}
	v.mu.Lock()
	if err == nil {
		v.state = st
	}
	v.inflight = nil
	v.mu.Unlock()
	d.state, d.err = st, err
	close(d.done)
}

func (v *Verifier) discoverOnce(ctx context.Context) (*discovered, error) {
	// NewProvider checks that the document names exactly cfg.Issuer.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), v.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
	}
	if meta.JWKSURI == "" {
		return nil, errors.New("discovery document has no jwks_uri")
	}
	if err := checkEndpoint(meta.JWKSURI); err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	algs := make([]jose.SignatureAlgorithm, len(v.cfg.Algorithms))
	for i, a := range v.cfg.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	ks := &keySet{
		url:      meta.JWKSURI,
		client:   v.client,
		algs:     algs,
		interval: v.cfg.RefetchInterval,
		now:      v.now,
		log:      v.log,
	}
	if _, err := ks.refresh(ctx); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	idv := oidc.NewVerifier(v.cfg.Issuer, ks, &oidc.Config{
		ClientID:             v.cfg.ClientID,
		SupportedSigningAlgs: v.cfg.Algorithms,
		// go-oidc checks exp without leeway and nbf with a fixed 5 minutes;
		// parseClaims/checkTimes apply Config.Leeway to both instead.
		SkipExpiryCheck: true,
	})
	return &discovered{idv: idv, keys: ks}, nil
}
