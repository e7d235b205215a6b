package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tamper changes one byte of the token's payload ("alice" → "alicE") and
// keeps header and signature.
func tamper(t testing.TB, tok string) string {
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	i := strings.Index(string(payload), `"alice"`)
	require.Positive(t, i)
	payload[i+5] = 'E'
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestNegativeMatrix is SECURITY.md's JWT negative matrix, end to end
// through Middleware: every case must be refused with 401, 0 accepted. Each
// case gets a fresh IdP and Verifier that already discovered the issuer and
// whose refetch interval has passed, so JWKS fetches caused by the case are
// counted exactly.
func TestNegativeMatrix(t *testing.T) {
	k := keys()
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	now := time.Now()

	cases := []struct {
		name string
		// token builds the bearer token; "" sends no Authorization header.
		token func(t *testing.T, p *testIdP) string
		// query puts the (valid) token in ?access_token= instead.
		query       bool
		wantRefetch int64
		wantInvalid bool // WWW-Authenticate carries error="invalid_token"
	}{
		{name: "alg none", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return unsigned(t, "k1", p.claims(nil))
		}},
		{name: "HS256 with the RSA public key as HMAC secret", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return sign(t, jose.HS256, pubPEM, "k1", p.claims(nil))
		}},
		{name: "HS256 with the RSA modulus as HMAC secret", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return sign(t, jose.HS256, k.rsa1.PublicKey.N.Bytes(), "k1", p.claims(nil))
		}},
		{name: "another issuer's key, published kid", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return sign(t, jose.RS256, k.foreign, "k1", p.claims(nil))
		}},
		{name: "another issuer's key, its own kid", wantInvalid: true, wantRefetch: 1, token: func(t *testing.T, p *testIdP) string {
			return sign(t, jose.RS256, k.foreign, "k7", p.claims(nil))
		}},
		{name: "another issuer's key, no kid", wantInvalid: true, wantRefetch: 1, token: func(t *testing.T, p *testIdP) string {
			return sign(t, jose.RS256, k.foreign, "", p.claims(nil))
		}},
		{name: "expired", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()})
		}},
		{name: "expired just beyond the leeway", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"exp": now.Add(-40 * time.Second).Unix(), "iat": now.Add(-time.Hour).Unix()})
		}},
		{name: "no exp", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"exp": nil})
		}},
		{name: "not before in the future beyond leeway", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})
		}},
		{name: "issued in the future beyond leeway", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"iat": now.Add(2 * time.Minute).Unix()})
		}},
		{name: "wrong issuer", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"iss": "https://evil.example/realms/edgeway"})
		}},
		{name: "issuer with trailing slash", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"iss": p.issuer + "/"})
		}},
		{name: "wrong audience", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"aud": []string{"account", "other-app"}})
		}},
		{name: "no audience", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"aud": nil})
		}},
		{name: "one payload byte changed", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return tamper(t, p.token(t, nil))
		}},
		{name: "signature stripped", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			tok := p.token(t, nil)
			return tok[:strings.LastIndex(tok, ".")+1]
		}},
		{name: "unknown key id", wantInvalid: true, wantRefetch: 1, token: func(t *testing.T, p *testIdP) string {
			return sign(t, jose.RS256, k.rsa2, "k2", p.claims(nil))
		}},
		{name: "no subject", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, map[string]any{"sub": nil})
		}},
		{name: "JSON serialization instead of compact", wantInvalid: true, token: func(t *testing.T, p *testIdP) string {
			parts := strings.Split(p.token(t, nil), ".")
			return fmt.Sprintf(`{"payload":%q,"protected":%q,"signature":%q}`, parts[1], parts[0], parts[2])
		}},
		{name: "garbage", wantInvalid: true, token: func(t *testing.T, p *testIdP) string { return "not-a-jwt" }},
		{name: "no token", token: func(t *testing.T, p *testIdP) string { return "" }},
		{name: "valid token only in the query string", query: true, token: func(t *testing.T, p *testIdP) string {
			return p.token(t, nil)
		}},
	}
	accepted := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newIdP(t)
			v, clk := newTestVerifier(t, p.config())
			require.NoError(t, v.Ready(t.Context()))
			clk.Advance(DefaultRefetchInterval + time.Second)
			fetchesBefore := p.jwksHits.Load()

			var got []string
			h := Middleware(v, testLogger(t), OnFailure(func(r *http.Request, reason error) {
				require.ErrorIs(t, reason, ErrUnauthenticated)
				got = append(got, reason.Error())
			}))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				accepted++
				w.WriteHeader(http.StatusNoContent)
			}))
			tok := tc.token(t, p)
			target := "/v2/projects"
			if tc.query {
				target += "?access_token=" + tok
			}
			req := httptest.NewRequest(http.MethodGet, target, nil)
			if tok != "" && !tc.query {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			require.Equal(t, http.StatusUnauthorized, rec.Code)
			want := `Bearer realm="edgeway"`
			if tc.wantInvalid {
				want += `, error="invalid_token"`
			}
			require.Equal(t, want, rec.Header().Get("WWW-Authenticate"))
			require.Len(t, got, 1)
			t.Logf("reason: %s", got[0])
			require.Equal(t, tc.wantRefetch, p.jwksHits.Load()-fetchesBefore, "JWKS fetches caused by the token")

			if tok != "" && !tc.query {
				_, err := v.Verify(t.Context(), tok)
				require.ErrorIs(t, err, ErrUnauthenticated)
			}
		})
	}
	require.Zero(t, accepted, "tokens accepted by the negative matrix")
}

func TestVerifyAccepts(t *testing.T) {
	k := keys()
	now := time.Now()
	cases := []struct {
		name  string
		cfg   func(*Config)
		token func(t *testing.T, p *testIdP) string
		want  Identity
		princ string
	}{
		{
			name:  "keycloak user token",
			token: func(t *testing.T, p *testIdP) string { return p.token(t, nil) },
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "alice", ClientID: "edgeway-ui",
				Roles: []string{"offline_access", "edgeway-admin"}, Groups: []string{"/team-a"}, Admin: true},
			princ: "user:alice",
		},
		{
			name: "user without the admin role",
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"preferred_username": "bob", "realm_access": map[string]any{"roles": []string{"offline_access"}}, "groups": nil})
			},
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "bob", ClientID: "edgeway-ui",
				Roles: []string{"offline_access"}},
			princ: "user:bob",
		},
		{
			name: "ES256 token, audience as a string",
			token: func(t *testing.T, p *testIdP) string {
				return sign(t, jose.ES256, k.ec, "ec1", p.claims(map[string]any{"aud": testClientID}))
			},
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "alice", ClientID: "edgeway-ui",
				Roles: []string{"offline_access", "edgeway-admin"}, Groups: []string{"/team-a"}, Admin: true},
			princ: "user:alice",
		},
		{
			name: "keycloak client-credentials token (service-account user name)",
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"azp": "edgeway-ci", "sub": "c0ffee00-0000-4000-8000-000000000001",
					"preferred_username": "service-account-edgeway-ci", "client_id": "edgeway-ci", "groups": nil,
					"realm_access": map[string]any{"roles": []string{"default-roles-edgeway"}}})
			},
			want: Identity{Subject: "c0ffee00-0000-4000-8000-000000000001", Username: "service-account-edgeway-ci",
				ClientID: "edgeway-ci", Roles: []string{"default-roles-edgeway"}},
			princ: "client:edgeway-ci",
		},
		{
			name: "client-credentials token without user name",
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"azp": "edgeway-ci", "sub": "edgeway-ci", "preferred_username": nil,
					"groups": nil, "realm_access": nil})
			},
			want:  Identity{Subject: "edgeway-ci", ClientID: "edgeway-ci"},
			princ: "client:edgeway-ci",
		},
		{
			name: "expired 10s ago, within the 30s leeway",
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"exp": now.Add(-10 * time.Second).Unix(), "iat": now.Add(-5 * time.Minute).Unix()})
			},
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "alice", ClientID: "edgeway-ui",
				Roles: []string{"offline_access", "edgeway-admin"}, Groups: []string{"/team-a"}, Admin: true},
			princ: "user:alice",
		},
		{
			name: "not before 10s ahead, within the leeway",
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"nbf": now.Add(10 * time.Second).Unix()})
			},
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "alice", ClientID: "edgeway-ui",
				Roles: []string{"offline_access", "edgeway-admin"}, Groups: []string{"/team-a"}, Admin: true},
			princ: "user:alice",
		},
		{
			name: "configured claim names (client roles, email)",
			cfg: func(c *Config) {
				c.UsernameClaim = "email"
				c.RolesClaim = "resource_access.edgeway.roles"
				c.GroupsClaim = "teams"
				c.AdminRole = "platform-admin"
			},
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"email": "carol@example.com", "teams": []string{"blue", "green"},
					"resource_access": map[string]any{"edgeway": map[string]any{"roles": []string{"platform-admin"}}}})
			},
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "carol@example.com", ClientID: "edgeway-ui",
				Roles: []string{"platform-admin"}, Groups: []string{"blue", "green"}, Admin: true},
			princ: "user:carol@example.com",
		},
		{
			name: "claim name containing dots, single-string groups",
			cfg: func(c *Config) {
				c.RolesClaim = "https://edgeway.dev/roles"
			},
			token: func(t *testing.T, p *testIdP) string {
				return p.token(t, map[string]any{"https://edgeway.dev/roles": []any{"edgeway-admin", 7}, "groups": "/solo"})
			},
			want: Identity{Subject: "6f1c2b9e-1111-4222-8333-944455556666", Username: "alice", ClientID: "edgeway-ui",
				Roles: []string{"edgeway-admin"}, Groups: []string{"/solo"}, Admin: true},
			princ: "user:alice",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newIdP(t)
			cfg := p.config()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			require.NoError(t, cfg.Validate())
			v, _ := newTestVerifier(t, cfg)
			tok := tc.token(t, p)
			id, err := v.Verify(t.Context(), tok)
			require.NoError(t, err)
			want := tc.want
			want.Token = tok
			require.Equal(t, &want, id)
			require.Equal(t, tc.princ, id.Principal())
		})
	}
}

// TestUnknownKidRefetch: an unknown key id costs one JWKS fetch per
// RefetchInterval, however many tokens (concurrent or not) carry unknown
// ids; a rotated-in key is picked up once the interval allows a fetch.
func TestUnknownKidRefetch(t *testing.T) {
	k := keys()
	p := newIdP(t)
	v, clk := newTestVerifier(t, p.config())
	ctx := t.Context()

	_, err := v.Verify(ctx, p.token(t, nil))
	require.NoError(t, err)
	require.EqualValues(t, 1, p.configHits.Load())
	require.EqualValues(t, 1, p.jwksHits.Load(), "discovery loads the JWKS once")

	// Right after discovery the JWKS is fresh: an unknown kid costs nothing.
	_, err = v.Verify(ctx, sign(t, jose.RS256, k.foreign, "k8", p.claims(nil)))
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.EqualValues(t, 1, p.jwksHits.Load())

	clk.Advance(DefaultRefetchInterval + time.Second)
	_, err = v.Verify(ctx, sign(t, jose.RS256, k.foreign, "k9", p.claims(nil)))
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.ErrorContains(t, err, `unknown key id "k9"`)
	require.EqualValues(t, 2, p.jwksHits.Load(), "one refetch for the unknown kid")

	_, err = v.Verify(ctx, sign(t, jose.RS256, k.foreign, "k10", p.claims(nil)))
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.EqualValues(t, 2, p.jwksHits.Load(), "no refetch within RefetchInterval")

	// A spray of random kids from many goroutines: one fetch in all.
	clk.Advance(DefaultRefetchInterval + time.Second)
	var wg sync.WaitGroup
	for i := range 16 {
		tok := sign(t, jose.RS256, k.foreign, fmt.Sprintf("spray-%d", i), p.claims(nil))
		wg.Go(func() {
			_, err := v.Verify(ctx, tok)
			assert.ErrorIs(t, err, ErrUnauthenticated)
		})
	}
	wg.Wait()
	require.EqualValues(t, 3, p.jwksHits.Load())

	// Known kid, bad signature: never a fetch, even when one would be allowed.
	clk.Advance(DefaultRefetchInterval + time.Second)
	_, err = v.Verify(ctx, tamper(t, p.token(t, nil)))
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.EqualValues(t, 3, p.jwksHits.Load())

	// Rotation: the IdP publishes k2; the first k2 token fetches, later ones
	// use the cache.
	p.publish(jose.JSONWebKey{Key: &k.rsa2.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"})
	for range 3 {
		id, err := v.Verify(ctx, sign(t, jose.RS256, k.rsa2, "k2", p.claims(nil)))
		require.NoError(t, err)
		require.Equal(t, "alice", id.Username)
	}
	require.EqualValues(t, 4, p.jwksHits.Load())
	_, err = v.Verify(ctx, p.token(t, nil))
	require.NoError(t, err, "k1 still valid after the refresh")
	require.EqualValues(t, 1, p.configHits.Load())
}

// TestLazyDiscovery: the IdP is not listening when the Verifier is built
// nor at the first request; once it is up, the next request works.
func TestLazyDiscovery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	issuer := "https://" + addr

	v, _ := newTestVerifier(t, Config{Issuer: issuer, ClientID: testClientID, HTTPClient: devClient()})
	fake := &testIdP{issuer: issuer}
	tok := fake.token(t, nil)

	_, err = v.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, ErrUnauthenticated)
	require.Error(t, v.Ready(t.Context()))

	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	p := startIdP(t, ln, nil)
	id, err := v.Verify(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, "user:alice", id.Principal())
	require.NoError(t, v.Ready(t.Context()))
	require.EqualValues(t, 1, p.configHits.Load())
	require.EqualValues(t, 1, p.jwksHits.Load())
}

// TestDiscoveryRetriedAndShared: a failed discovery is retried by the next
// call, and concurrent callers share one attempt.
func TestDiscoveryRetriedAndShared(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gate := make(chan struct{})
	p := startIdP(t, ln, gate)
	p.failDiscovery.Store(true)
	v, _ := newTestVerifier(t, p.config())
	tok := p.token(t, nil)

	close(gate)
	_, err = v.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualValues(t, 1, p.configHits.Load())
	_, err = v.Verify(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnavailable, "retried, still failing")
	require.EqualValues(t, 2, p.configHits.Load())

	// Concurrent callers while the IdP is slow: one discovery for all.
	p2ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gate2 := make(chan struct{})
	p2 := startIdP(t, p2ln, gate2)
	v2, _ := newTestVerifier(t, p2.config())
	tok2 := p2.token(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := v2.Verify(context.Background(), tok2)
			assert.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return p2.configHits.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	// A caller that gives up does not spoil the shared attempt.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = v2.Verify(ctx, tok2)
	require.ErrorIs(t, err, ErrUnavailable)
	close(gate2)
	wg.Wait()
	require.EqualValues(t, 1, p2.configHits.Load())
	require.EqualValues(t, 1, p2.jwksHits.Load())

	// The first IdP recovers: the next call discovers it.
	p.failDiscovery.Store(false)
	_, err = v.Verify(t.Context(), tok)
	require.NoError(t, err)
	require.EqualValues(t, 3, p.configHits.Load())
}

// TestDiscoveryRejectsMismatchedIssuer: the discovery document must name
// the configured issuer exactly.
func TestDiscoveryRejectsMismatchedIssuer(t *testing.T) {
	p := newIdP(t)
	cfg := p.config()
	cfg.Issuer = strings.Replace(p.issuer, "127.0.0.1", "localhost", 1)
	v, _ := newTestVerifier(t, cfg)
	require.ErrorIs(t, v.Ready(t.Context()), ErrUnavailable)
}

// TestInvalidConfigFailsClosed: a Verifier built from a configuration that
// Validate refuses (here HS256 allowed) accepts nothing.
func TestInvalidConfigFailsClosed(t *testing.T) {
	k := keys()
	p := newIdP(t)
	cfg := p.config()
	cfg.Algorithms = []string{"HS256", "RS256"}
	require.Error(t, cfg.Validate())
	v, _ := newTestVerifier(t, cfg)
	require.ErrorIs(t, v.Ready(t.Context()), ErrUnavailable)
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	for _, tok := range []string{p.token(t, nil), sign(t, jose.HS256, pubPEM, "k1", p.claims(nil))} {
		_, err := v.Verify(t.Context(), tok)
		require.Error(t, err)
	}
	require.Zero(t, p.configHits.Load())
}
