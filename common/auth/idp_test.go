package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// The test identity provider: an HTTPS server with its own dev CA serving
// OIDC discovery and a JWKS, counting the hits on each.

const testClientID = "edgeway"

// testKeys are generated once per test binary (RSA generation is slow).
type testKeys struct {
	rsa1, rsa2, foreign *rsa.PrivateKey // rsa1 "k1" and rsa2 "k2" may be published; foreign never is
	ec                  *ecdsa.PrivateKey
}

var keys = sync.OnceValue(func() testKeys {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return testKeys{rsa1: gen(), rsa2: gen(), foreign: gen(), ec: ec}
})

// devCA is a CA and a server certificate for 127.0.0.1 / localhost signed by
// it, like the dev IdP's.
type devCA struct {
	pool *x509.CertPool
	leaf tls.Certificate
}

var testCA = sync.OnceValue(func() devCA {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edgeway dev CA (test)"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "idp.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return devCA{pool: pool, leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}
})

// devClient trusts only the test dev CA.
func devClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testCA().pool}}}
}

type testIdP struct {
	srv    *httptest.Server
	issuer string

	configHits, jwksHits atomic.Int64
	failDiscovery        atomic.Bool
	discoveryGate        chan struct{} // when non-nil, discovery answers once it is closed

	mu        sync.Mutex
	published []jose.JSONWebKey
}

// newIdP starts a test IdP publishing rsa1 ("k1") and ec ("ec1").
func newIdP(t testing.TB) *testIdP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return startIdP(t, ln, nil)
}

// startIdP serves a test IdP on ln.
func startIdP(t testing.TB, ln net.Listener, gate chan struct{}) *testIdP {
	k := keys()
	p := &testIdP{issuer: "https://" + ln.Addr().String(), discoveryGate: gate}
	p.publish(jose.JSONWebKey{Key: &k.rsa1.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"})
	p.publish(jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.configHits.Add(1)
		if p.discoveryGate != nil {
			<-p.discoveryGate
		}
		if p.failDiscovery.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.issuer,
			"authorization_endpoint":                p.issuer + "/auth",
			"token_endpoint":                        p.issuer + "/token",
			"jwks_uri":                              p.issuer + "/certs",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /certs", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), p.published...)}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Listener.Close()
	p.srv.Listener = ln
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{testCA().leaf}}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testIdP) publish(k jose.JSONWebKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, k)
}

// config is a Verifier configuration for the IdP.
func (p *testIdP) config() Config {
	return Config{Issuer: p.issuer, ClientID: testClientID, HTTPClient: devClient()}
}

// claims are Keycloak-shaped access-token claims for alice, an admin; a nil
// value in over removes the claim.
func (p *testIdP) claims(over map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":                p.issuer,
		"aud":                []string{testClientID, "account"},
		"azp":                "edgeway-ui",
		"sub":                "6f1c2b9e-1111-4222-8333-944455556666",
		"exp":                now.Add(5 * time.Minute).Unix(),
		"iat":                now.Unix(),
		"typ":                "Bearer",
		"preferred_username": "alice",
		"realm_access":       map[string]any{"roles": []string{"offline_access", "edgeway-admin"}},
		"groups":             []string{"/team-a"},
		"scope":              "openid profile",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// token signs the claims with rsa1 ("k1").
func (p *testIdP) token(t testing.TB, over map[string]any) string {
	return sign(t, jose.RS256, keys().rsa1, "k1", p.claims(over))
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	s, err := jws.CompactSerialize()
	require.NoError(t, err)
	return s
}

// unsigned builds an alg=none token.
func unsigned(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	hdr, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(hdr) + "." + enc(payload) + "."
}

// fakeClock drives the Verifier's notion of now (expiry and the refetch
// rate limit).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestVerifier returns a Verifier for cfg driven by a fake clock.
func newTestVerifier(t testing.TB, cfg Config) (*Verifier, *fakeClock) {
	v := NewVerifier(cfg, testLogger(t))
	clk := newClock()
	v.now = clk.Now
	return v, clk
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
