package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// errRefetchLimited: a key id is unknown but the JWKS was fetched less than
// RefetchInterval ago.
var errRefetchLimited = errors.New("JWKS refetch rate-limited")

// keySet is the oidc.KeySet behind a Verifier. Unlike go-oidc's
// RemoteKeySet it never fetches for a token whose key id it knows, and it
// fetches at most once per interval for unknown key ids (see doc.go).
type keySet struct {
	url      string
	client   *http.Client
	algs     []jose.SignatureAlgorithm
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	lastFetch time.Time // start of the last fetch attempt; zero before the first
	inflight  *keyFetch
}

// keyFetch is a JWKS fetch shared by every caller that waits for it.
type keyFetch struct {
	done chan struct{}
	keys []jose.JSONWebKey
	err  error
}

// VerifySignature implements oidc.KeySet: it returns the payload of jwt if
// its single signature verifies with a key of the set.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jws: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	if payload, known, err := verifyWith(jws, keys, hdr.KeyID, hdr.Algorithm); known {
		// A known key id is judged against the cached keys only: a bad
		// signature is a forgery or a tampered token, not a rotation.
		return payload, err
	}
	keys, err = k.refresh(ctx)
	if err != nil {
		return nil, fmt.Errorf("unknown key id %q: %w", hdr.KeyID, err)
	}
	if payload, known, err := verifyWith(jws, keys, hdr.KeyID, hdr.Algorithm); known {
		return payload, err
	}
	return nil, fmt.Errorf("unknown key id %q", hdr.KeyID)
}

// verifyWith verifies jws with the keys that match kid (all keys when kid
// is empty) and alg. known reports whether any key matched; when it is
// false the verdict is left to a refreshed key set.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid, alg string) (payload []byte, known bool, err error) {
	tried := 0
	for i := range keys {
		key := &keys[i]
		if kid != "" && key.KeyID != kid {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		tried++
		if p, err := jws.Verify(key); err == nil {
			return p, true, nil
		}
	}
	if tried == 0 {
		return nil, false, nil
	}
	if kid == "" {
		// Without a key id a new key cannot be told from a forgery: let the
		// rate-limited refresh decide.
		return nil, false, nil
	}
	return nil, true, fmt.Errorf("signature does not verify with key %q", kid)
}

// refresh fetches the JWKS unless a fetch started less than interval ago;
// concurrent callers share one fetch. A failed fetch keeps the old keys.
func (k *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		if !k.lastFetch.IsZero() && k.now().Sub(k.lastFetch) < k.interval {
			k.mu.Unlock()
			return nil, errRefetchLimited
		}
		f = &keyFetch{done: make(chan struct{})}
		k.inflight = f
		k.lastFetch = k.now()
		go k.fetch(f)
	}
	k.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-f.done:
		return f.keys, f.err
	}
}

func (k *keySet) fetch(f *keyFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	keys, err := k.load(ctx)
	k.mu.Lock()
	if err == nil {
		k.keys = keys
	}
	k.inflight = nil
	k.mu.Unlock()
	if err != nil {
		k.log.Warn("oidc: JWKS fetch failed", "jwks_uri", k.url, "error", err)
	} else {
		k.log.Debug("oidc: JWKS fetched", "jwks_uri", k.url, "keys", len(keys))
	}
	f.keys, f.err = keys, err
	close(f.done)
}

// load GETs and parses the JWKS. Keys that cannot verify signatures
// (encryption keys, symmetric keys, unknown types) are skipped.
func (k *keySet) load(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", k.url, resp.Status)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decoding JWKS: %w", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		if err := json.Unmarshal(r, &key); err != nil {
			k.log.Debug("oidc: JWKS key skipped", "error", err)
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if !key.IsPublic() {
			// Symmetric keys never verify anything here; a published
			// private key is used for its public half only.
			if _, sym := key.Key.([]byte); sym || key.Key == nil {
				continue
			}
			key = key.Public()
			if !key.Valid() {
				continue
			}
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no signature verification keys")
	}
	return keys, nil
}
