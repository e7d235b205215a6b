package e2e

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

var b64 = base64.RawURLEncoding

// jwtParts splits a compact JWS into its decoded header and payload.
func jwtParts(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3, "not a compact JWS")
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := b64.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, dst))
	}
	return header, payload
}

// jwtSign builds a compact JWS of header and payload with sign (nil: an
// empty signature).
func jwtSign(t *testing.T, header, payload map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	input := b64.EncodeToString(mustJSON(header)) + "." + b64.EncodeToString(mustJSON(payload))
	sig := ""
	if sign != nil {
		sig = b64.EncodeToString(sign([]byte(input)))
	}
	return input + "." + sig
}

func rs256(key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		h := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func hs256(key []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(input)
		return m.Sum(nil)
	}
}

// withClaims returns a copy of m with the given members set.
func withClaims(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// devIdPKey discovers the dev identity provider like a client does
// (/.well-known/edgeway → issuer → OpenID discovery → JWKS) and returns
// its first RSA signing key.
func devIdPKey(t *testing.T, srv *harness.Server) (kid string, pub *rsa.PublicKey) {
	t.Helper()
	get := func(u string, v any) {
		t.Helper()
		resp, err := srv.Client().Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", u)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(v), "GET %s", u)
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	get(srv.URL+"/.well-known/edgeway", &disc)
	var oidc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	get(strings.TrimSuffix(disc.Issuer, "/")+"/.well-known/openid-configuration", &oidc)
	var jwks struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	get(oidc.JWKSURI, &jwks)
	for _, k := range jwks.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err := b64.DecodeString(k.N)
		require.NoError(t, err)
		e, err := b64.DecodeString(k.E)
		require.NoError(t, err)
		return k.Kid, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	t.Fatalf("no RSA key in the JWKS at %s", oidc.JWKSURI)
	return "", nil
}

// TestForgedTokensRejected sends forged and misplaced tokens through the
// real gateway to routes of two services: every one is 401 with a Bearer
// challenge. The full negative matrix is unit-tested in common/auth; this
// checks the wiring end to end. (The services re-verify tokens too, but
// they are reachable only with a service's client certificate.)
func TestForgedTokensRejected(t *testing.T) {
	srv := sharedServer(t)
	id, secret := srv.AddClient(t, "forger-"+uniqueID(), false)
	good := srv.Token(t, id, secret)
	api := srv.API().Anonymous()
	header, claims := jwtParts(t, good)
	kid, pub := devIdPKey(t, srv)
	require.Equal(t, kid, header["kid"], "the token is signed with the key the JWKS publishes")
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	now := time.Now()

	// One payload byte changed: a letter of the user name, so the payload
	// is still valid JSON and only the signature is wrong.
	parts := strings.Split(good, ".")
	payload, err := b64.DecodeString(parts[1])
	require.NoError(t, err)
	name, _ := claims["preferred_username"].(string)
	i := strings.Index(string(payload), `"`+name+`"`)
	require.GreaterOrEqual(t, i, 0, "preferred_username in the payload %s", payload)
	payload[i+1] ^= 0x01
	flipped := parts[0] + "." + b64.EncodeToString(payload) + "." + parts[2]

	tests := []struct {
		name  string
		token string // "" sends no Authorization header
		query string // added to the URL
	}{
		{"no token", "", ""},
		{"token only in the query string", "", "access_token=" + url.QueryEscape(good)},
		{"one payload byte changed", flipped, ""},
		{"alg none", jwtSign(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, nil), ""},
		{"alg none with the real kid", jwtSign(t, withClaims(header, "alg", "none"), claims, nil), ""},
		{"HS256 keyed with the RSA public key", jwtSign(t, withClaims(header, "alg", "HS256"), claims, hs256(pubPEM)), ""},
		{"foreign key under the real kid", jwtSign(t, header, claims, rs256(foreign)), ""},
		{"foreign key under the real kid, expired", jwtSign(t, header, withClaims(claims,
			"iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-time.Hour).Unix()), rs256(foreign)), ""},
		{"foreign key under an unknown kid", jwtSign(t, withClaims(header, "kid", "forged-"+uniqueID()), claims, rs256(foreign)), ""},
	}
	for _, path := range []string{"/projects", "/cluster-providers"} {
		t.Run("real token accepted "+path, func(t *testing.T) {
			want := http.StatusOK
			if path == "/cluster-providers" {
				want = http.StatusForbidden // authenticated, not a platform admin
			}
			api.WithToken(good).Get(t, path).Require(t, want)
		})
		for _, tc := range tests {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				h := http.Header{}
				if tc.token != "" {
					h.Set("Authorization", "Bearer "+tc.token)
				}
				p := path
				if tc.query != "" {
					p += "?" + tc.query
				}
				r := api.Do(t, http.MethodGet, p, "", nil, h)
				r.RequireProblem(t, http.StatusUnauthorized)
				require.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer"),
					"WWW-Authenticate %q:\n%s", r.Header.Get("WWW-Authenticate"), r)
			})
		}
	}
}
