package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key file names inside the keys directory.
const (
	KeyFile       = "audit-ed25519.key" // PKCS #8 PEM, mode 0600
	PublicKeyFile = "audit-ed25519.pub" // PKIX PEM
)

// LoadOrCreateKey returns the checkpoint signing key in dir, creating dir
// (0700), the key (0600) and its public half on first use. Several processes
// may call it at once: exactly one key is created. It refuses a key file
// that group or others can read, and a public key file that does not match.
func LoadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	if dir == "" {
		return nil, errors.New("audit: no keys directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: keys directory: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	key, err := readPrivateKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createPrivateKey(dir, path)
	}
	if err != nil {
		return nil, err
	}
	if err := ensurePublicKey(filepath.Join(dir, PublicKeyFile), key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	return key, nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: %s is accessible to group or others (mode %v); want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit: %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: %s: not an Ed25519 key", path)
	}
	return ek, nil
}

// createPrivateKey writes a new key to a temporary file and links it into
// place, so the key file appears complete or not at all, and a concurrent
// creator's key wins if it was first.
func createPrivateKey(dir, path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("audit: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("audit: encode signing key: %w", err)
	}
	tmp, err := writeTemp(dir, ".audit-key-*", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readPrivateKey(path)
		}
		return nil, fmt.Errorf("audit: install signing key: %w", err)
	}
	return key, nil
}

// ensurePublicKey writes pub to path unless the file exists, in which case it
// must hold pub.
func ensurePublicKey(path string, pub ed25519.PublicKey) error {
	want, err := encodePublicKey(pub)
	if err != nil {
		return err
	}
	have, err := os.ReadFile(path)
	switch {
	case err == nil:
		got, err := parsePublicKey(have)
		if err != nil || !got.Equal(pub) {
			return fmt.Errorf("audit: %s does not match the signing key", path)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("audit: read public key: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), ".audit-pub-*", want)
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("audit: public key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("audit: install public key: %w", err)
	}
	return nil
}

// writeTemp writes b to a new 0600 file in dir, synced, and returns its path.
func writeTemp(dir, pattern string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern) // mode 0600
	if err != nil {
		return "", fmt.Errorf("audit: key file: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("audit: write key file: %w", err)
	}
	return f.Name(), nil
}

func encodePublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("audit: encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func parsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(bytes.TrimSpace(b))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("audit: not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("audit: not an Ed25519 public key")
	}
	return pub, nil
}

// LoadPublicKey reads a public key file written by LoadOrCreateKey.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read public key: %w", err)
	}
	pub, err := parsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return pub, nil
}
