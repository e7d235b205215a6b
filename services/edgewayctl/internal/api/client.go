package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Content types the API speaks.
const (
	ContentJSON      = "application/json"
	ContentProblem   = "application/problem+json"
	ContentOctet     = "application/octet-stream"
	DefaultAPIPrefix = "/v2"
	maxBody          = 64 << 20
	maxRetries429    = 3
)

// NewHTTPClient returns an HTTP client that trusts the system roots (on
// Linux these honour SSL_CERT_FILE and SSL_CERT_DIR) plus the PEM
// certificates of caFile, if given.
func NewHTTPClient(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

// Client calls one Edgeway API.
type Client struct {
	// Endpoint is the gateway's base URL without a trailing slash.
	Endpoint string
	// Prefix is the API's path prefix, "/v2" unless discovery says otherwise.
	Prefix string
	HTTP   *http.Client
	// Tokens supplies bearer tokens; nil sends none.
	Tokens    oauth2.TokenSource
	UserAgent string
}

// Request is one API call. Path is relative to the API prefix
// ("projects/p1") or absolute from the endpoint when it starts with the
// prefix ("/v2/projects/p1").
type Request struct {
	Method      string
	Path        string
	Query       string // raw query, without "?"
	Body        []byte
	ContentType string
	Accept      string
}

// Response is a fully read answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ContentType is the media type of the answer, without parameters.
func (r *Response) ContentType() string {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(ct)
}

// URL returns the full URL of an API path.
func (c *Client) URL(p, query string) string {
	prefix := c.Prefix
	if prefix == "" {
		prefix = DefaultAPIPrefix
	}
	if !strings.HasPrefix(p, prefix+"/") && p != prefix {
		p = path.Join(prefix, strings.TrimPrefix(p, "/"))
	}
	u := c.Endpoint + p
	if query != "" {
		u += "?" + query
	}
	return u
}

// Do sends the request and reads the answer. An answer of 400 or more is
// returned as an *Error together with the response.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		if resp.Status == http.StatusTooManyRequests && attempt < maxRetries429 {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 30 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
				continue
			}
		}
		if resp.Status >= 400 {
			return resp, newError(r.Method, c.displayPath(r.Path), resp)
		}
		return resp, nil
	}
}

func (c *Client) displayPath(p string) string {
	u := c.URL(p, "")
	return strings.TrimPrefix(u, c.Endpoint)
}

func (c *Client) do(ctx context.Context, r Request) (*Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.URL(r.Path, r.Query), body)
	if err != nil {
		return nil, err
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	accept := r.Accept
	if accept == "" {
		accept = ContentJSON + ", " + ContentProblem
	}
	req.Header.Set("Accept", accept)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.Tokens != nil {
		tok, err := c.Tokens.Token()
		if err != nil {
			return nil, err
		}
		tok.SetAuthHeader(req)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, c.displayPath(r.Path), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", r.Method, c.displayPath(r.Path), err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// unwrapURLError drops url.Error's repetition of method and URL, which the
// caller's message already has.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Get sends GET path and returns the body.
func (c *Client) Get(ctx context.Context, p, query string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodGet, Path: p, Query: query})
}

// GetJSON sends GET path and decodes the JSON answer into v.
func (c *Client) GetJSON(ctx context.Context, p, query string, v any) error {
	resp, err := c.Get(ctx, p, query)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return fmt.Errorf("GET %s: answer is not the expected JSON: %w", c.displayPath(p), err)
	}
	return nil
}

// Multipart builds an emcoctl-style multipart/form-data body: the JSON
// object in the "metadata" part and, when file is not nil, the file in the
// "file" part.
func Multipart(metadata []byte, file []byte, filename string) (contentType string, body []byte, err error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"`)
	h.Set("Content-Type", ContentJSON)
	pw, err := w.CreatePart(h)
	if err != nil {
		return "", nil, err
	}
	if _, err := pw.Write(metadata); err != nil {
		return "", nil, err
	}
	if file != nil {
		if filename == "" {
			filename = "file.tgz"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, path.Base(filename)))
		h.Set("Content-Type", ContentOctet)
		fw, err := w.CreatePart(h)
		if err != nil {
			return "", nil, err
		}
		if _, err := fw.Write(file); err != nil {
			return "", nil, err
		}
	}
	if err := w.Close(); err != nil {
		return "", nil, err
	}
	return w.FormDataContentType(), buf.Bytes(), nil
}
