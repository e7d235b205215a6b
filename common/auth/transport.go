package auth

import (
	"errors"
	"io"
	"net/http"
	"time"
)

const (
	// maxResponse bounds the discovery document and the JWKS.
	maxResponse = 1 << 20
	// fetchTimeout bounds one discovery or JWKS fetch.
	fetchTimeout = 10 * time.Second
)

var errResponseTooLarge = errors.New("identity provider response exceeds 1 MiB")

// httpClient returns a copy of c (or a new client) whose responses are
// size-limited and which has a timeout: go-oidc reads bodies with
// io.ReadAll and a hung fetch must not block key refreshes forever.
func httpClient(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = limitTransport{base: base}
	if out.Timeout == 0 {
		out.Timeout = fetchTimeout
	}
	return &out
}

type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxResponse}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
