package devidp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// newPassword returns a random password: 26 base32 characters from
// crypto/rand (128 bits).
func newPassword() string { return rand.Text() }

// newClientSecret returns a random client secret: 32 bytes from crypto/rand,
// base64url without padding (43 characters).
func newClientSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newID returns a random UUID for subjects and token ids.
func newID() string { return uuid.NewString() }

// bcryptCost is the work factor of stored hashes; tests lower it.
var bcryptCost = bcrypt.DefaultCost

// hashSecret hashes a password or client secret with bcrypt.
func hashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when the principal does not exist, so an
// unknown name costs as much time as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("devidp-unknown-principal"), bcryptCost)
	if err != nil {
		panic(err) // only for a cost out of range
	}
	return h
})

// checkSecret reports whether secret matches hash; an empty hash (unknown
// principal) never matches but costs the same time.
func checkSecret(hash, secret string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(secret))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// serviceAccountPrefix is Keycloak's preferred_username prefix for the
// service account of a client.
const serviceAccountPrefix = "service-account-"

func validateUserName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("user %q: %w: use 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit", name, ErrInvalidName)
	}
	if strings.HasPrefix(name, serviceAccountPrefix) {
		// It would share its preferred_username with a client's service account.
		return fmt.Errorf("user %q: %w: the prefix %q is reserved for service accounts", name, ErrInvalidName, serviceAccountPrefix)
	}
	return nil
}

func validateClientName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("client %q: %w: use 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit", name, ErrInvalidName)
	}
	if name == PublicClientID {
		return fmt.Errorf("client %q: %w: reserved for the public client", name, ErrInvalidName)
	}
	return nil
}
