package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DiscoveryPath is where the gateway tells clients its identity provider.
const DiscoveryPath = "/.well-known/edgeway"

// Discovery is the gateway's answer at DiscoveryPath.
type Discovery struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	API      string `json:"api"`
}

// Discover reads the server's discovery document (no token needed).
func Discover(ctx context.Context, hc *http.Client, endpoint string) (*Discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+DiscoveryPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", ContentJSON)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, newError(http.MethodGet, DiscoveryPath, &Response{Status: resp.StatusCode, Header: resp.Header, Body: b})
	}
	var d Discovery
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("discovery at %s: not JSON: %w", endpoint, err)
	}
	if d.Issuer == "" || d.ClientID == "" {
		return nil, fmt.Errorf("discovery at %s: no issuer or client id", endpoint)
	}
	if d.API == "" {
		d.API = DefaultAPIPrefix
	}
	if u, err := url.Parse(d.API); err == nil && u.IsAbs() {
		d.API = u.Path
	}
	d.API = "/" + strings.Trim(d.API, "/")
	return &d, nil
}
