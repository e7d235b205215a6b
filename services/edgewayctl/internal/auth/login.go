package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DeviceLogin runs the OAuth 2.0 device authorization grant (RFC 8628):
// it prints where to approve the login and the code to w, then polls the
// token endpoint until the user approves or denies, or ctx ends.
func DeviceLogin(ctx context.Context, p *Provider, endpoint string, w io.Writer) (*oauth2.Token, error) {
	conf := p.PublicConfig("")
	ctx = p.Context(ctx)
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("device authorization: %w", describeOAuthError(err))
	}
	fmt.Fprintf(w, "To log in to %s, visit\n  %s\nand enter the code  %s\n", endpoint, da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(w, "Waiting for the approval...")
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("device login: %w", describeOAuthError(err))
	}
	return tok, nil
}

// BrowserLogin runs the authorization code grant with PKCE (RFC 7636) and
// a loopback redirect (RFC 8252): it serves http://127.0.0.1:PORT/callback,
// prints the authorization URL to w and hands it to open (which may fail:
// the user then opens the URL by hand), and exchanges the code it receives.
func BrowserLogin(ctx context.Context, p *Provider, w io.Writer, open func(string) error) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loopback listener: %w", err)
	}
	defer ln.Close()
	redirect := "http://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/callback"
	conf := p.PublicConfig(redirect)
	verifier, state, nonce := oauth2.GenerateVerifier(), randomString(), randomString()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	type result struct {
		code string
		err  error
	}
	results := make(chan result, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var res result
		switch {
		case q.Get("state") != state:
			res.err = errors.New("the callback's state does not match this login")
		case q.Get("error") != "":
			res.err = fmt.Errorf("the identity provider refused: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the callback carries no code")
		default:
			res.code = q.Get("code")
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		msg := "Login complete. You can close this window and return to edgewayctl."
		if res.err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			msg = "Login failed: " + res.err.Error()
		}
		fmt.Fprintf(rw, "<!doctype html><title>edgewayctl</title><p>%s</p>", html.EscapeString(msg))
		select {
		case results <- res:
		default: // a second callback; the first one counts
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(w, "Opening the browser to log in. If it does not open, visit:\n  %s\n", authURL)
	if err := open(authURL); err != nil {
		fmt.Fprintf(w, "(could not start a browser: %v)\n", err)
	}
	var res result
	select {
	case res = <-results:
	case <-ctx.Done():
		return nil, fmt.Errorf("browser login: %w", ctx.Err())
	}
	if res.err != nil {
		return nil, fmt.Errorf("browser login: %w", res.err)
	}
	tok, err := conf.Exchange(p.Context(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("browser login: code exchange: %w", describeOAuthError(err))
	}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, err := p.OIDC.Verifier(&oidc.Config{ClientID: p.Discovery.ClientID}).Verify(p.Context(ctx), raw)
		if err != nil {
			return nil, fmt.Errorf("browser login: ID token: %w", err)
		}
		if idt.Nonce != nonce {
			return nil, errors.New("browser login: the ID token's nonce does not match this login")
		}
	}
	return tok, nil
}

// NewSession builds the session to cache from a login's tokens, naming the
// user from the verified ID token.
func NewSession(ctx context.Context, p *Provider, tok *oauth2.Token) (*Session, error) {
	s := &Session{Issuer: p.Discovery.Issuer, ClientID: p.Discovery.ClientID}
	s.setToken(tok)
	if s.IDToken != "" {
		name, err := p.Verify(ctx, s.IDToken)
		if err != nil {
			return nil, err
		}
		s.Username = name
	}
	return s, nil
}

// Revoke asks the provider to revoke a refresh token (RFC 7009), best
// effort: providers without a revocation endpoint are skipped.
func Revoke(ctx context.Context, p *Provider, refreshToken string) error {
	if p.RevocationURL == "" || refreshToken == "" {
		return nil
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {p.Discovery.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("revocation endpoint: %s: %s", resp.Status, b)
	}
	return nil
}

// describeOAuthError keeps the provider's error code and description and
// drops the raw response dump of oauth2.RetrieveError.
func describeOAuthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		if msg == "" && re.Response != nil {
			msg = re.Response.Status
		}
		return errors.New(msg)
	}
	return err
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
