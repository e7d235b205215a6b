package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"

	"edgeway.dev/services/edgewayctl/internal/config"
)

// Session is a login cached for one endpoint.
type Session struct {
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"client_id"`
	Username     string    `json:"username,omitempty"`
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// Token returns the session's tokens as an oauth2.Token.
func (s *Session) Token() *oauth2.Token {
	return &oauth2.Token{AccessToken: s.AccessToken, TokenType: s.TokenType, RefreshToken: s.RefreshToken, Expiry: s.Expiry}
}

// setToken records new tokens, keeping the refresh token when the provider
// did not send a new one.
func (s *Session) setToken(t *oauth2.Token) {
	s.AccessToken, s.TokenType, s.Expiry = t.AccessToken, t.TokenType, t.Expiry
	if t.RefreshToken != "" {
		s.RefreshToken = t.RefreshToken
	}
	if id, ok := t.Extra("id_token").(string); ok && id != "" {
		s.IDToken = id
	}
}

type cacheFile struct {
	Sessions map[string]*Session `json:"sessions"`
}

// Cache is the token file: sessions keyed by endpoint, written atomically
// with mode 0600 in a directory of mode 0700. Writers serialise on a lock
// file beside it, so that two commands never refresh the same rotating
// refresh token at once.
type Cache struct {
	Path string
}

// Lock takes the cache's lock (flock on Path.lock); call the returned
// function to release it.
func (c *Cache) Lock() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return nil, fmt.Errorf("token cache: %w", err)
	}
	return lockFile(c.Path + ".lock")
}

func (c *Cache) load() (*cacheFile, error) {
	f := &cacheFile{Sessions: map[string]*Session{}}
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token cache: %w", err)
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("token cache %s: %w", c.Path, err)
	}
	if f.Sessions == nil {
		f.Sessions = map[string]*Session{}
	}
	return f, nil
}

func (c *Cache) save(f *cacheFile) error {
	if len(f.Sessions) == 0 {
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("token cache: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := config.WriteFileAtomic(c.Path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	return nil
}

// Get returns the session of endpoint, or nil. The caller holds the lock.
func (c *Cache) Get(endpoint string) (*Session, error) {
	f, err := c.load()
	if err != nil {
		return nil, err
	}
	return f.Sessions[endpoint], nil
}

// Put stores the session of endpoint. The caller holds the lock.
func (c *Cache) Put(endpoint string, s *Session) error {
	f, err := c.load()
	if err != nil {
		return err
	}
	f.Sessions[endpoint] = s
	return c.save(f)
}

// Delete removes and returns the session of endpoint (nil if none). The
// caller holds the lock.
func (c *Cache) Delete(endpoint string) (*Session, error) {
	f, err := c.load()
	if err != nil {
		return nil, err
	}
	s := f.Sessions[endpoint]
	delete(f.Sessions, endpoint)
	if s == nil {
		return nil, nil
	}
	return s, c.save(f)
}
