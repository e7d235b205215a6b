package devidp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Sentinel errors of the user and client store.
var (
	// ErrAlreadyExists reports that a user or client of that name exists.
	ErrAlreadyExists = errors.New("devidp: already exists")
	// ErrInvalidName reports a user or client name that is not allowed.
	ErrInvalidName = errors.New("devidp: invalid name")
)

const (
	stateFile       = "idp.json"
	lockFileName    = "idp.lock"
	keyFile         = "idp-signing-key.pem"
	credentialsFile = "credentials.json"
	stateVersion    = 1
)

// devDir is where the provider keeps its files.
func devDir(dataDir string) string { return filepath.Join(dataDir, "dev") }

// CredentialsPath is the file New writes the bootstrap credentials to.
func CredentialsPath(dataDir string) string {
	return filepath.Join(devDir(dataDir), credentialsFile)
}

// state is the content of idp.json.
type state struct {
	Version int                      `json:"version"`
	Users   map[string]*userRecord   `json:"users"`
	Clients map[string]*clientRecord `json:"clients"`
}

// userRecord is a person who logs in with a password.
type userRecord struct {
	// ID is the token subject (a UUID, like Keycloak's user ids).
	ID           string    `json:"id"`
	PasswordHash string    `json:"password_hash"`
	Admin        bool      `json:"admin,omitempty"`
	Groups       []string  `json:"groups,omitempty"`
	Created      time.Time `json:"created"`
}

// clientRecord is a confidential client using the client credentials
// grant; its tokens are issued to its service account.
type clientRecord struct {
	// ServiceAccountID is the token subject of the client's service account.
	ServiceAccountID string    `json:"service_account_id"`
	SecretHash       string    `json:"secret_hash"`
	Admin            bool      `json:"admin,omitempty"`
	Groups           []string  `json:"groups,omitempty"`
	Created          time.Time `json:"created"`
}

func newState() *state {
	return &state{Version: stateVersion, Users: map[string]*userRecord{}, Clients: map[string]*clientRecord{}}
}

// userByID finds a user by token subject.
func (s *state) userByID(id string) (string, *userRecord, bool) {
	for name, u := range s.Users {
		if u.ID == id {
			return name, u, true
		}
	}
	return "", nil, false
}

// clientBySubject finds a confidential client by its service account's subject.
func (s *state) clientBySubject(sub string) (string, *clientRecord, bool) {
	for name, c := range s.Clients {
		if c.ServiceAccountID == sub {
			return name, c, true
		}
	}
	return "", nil, false
}

func readState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("parse %s: unsupported version %d", path, st.Version)
	}
	if st.Users == nil {
		st.Users = map[string]*userRecord{}
	}
	if st.Clients == nil {
		st.Clients = map[string]*clientRecord{}
	}
	return st, nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file in the same directory and a rename, so readers see the old or the new
// content, never a part.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync temp file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ensureDevDir creates <data-dir>/dev with mode 0700.
func ensureDevDir(dataDir string) (string, error) {
	if dataDir == "" {
		return "", errors.New("devidp: data dir is empty")
	}
	dir := devDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return dir, nil
}

// lockState takes the exclusive lock of dataDir's store and loads the
// current state; unlock releases the lock.
func lockState(dataDir string) (dir string, st *state, unlock func(), err error) {
	dir, err = ensureDevDir(dataDir)
	if err != nil {
		return "", nil, nil, err
	}
	unlock, err = lockFile(filepath.Join(dir, lockFileName))
	if err != nil {
		return "", nil, nil, err
	}
	st, err = readState(filepath.Join(dir, stateFile))
	if err != nil {
		unlock()
		return "", nil, nil, err
	}
	return dir, st, unlock, nil
}

// saveState writes the state atomically; the caller holds the lock.
func saveState(dir string, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'))
}

// withLockedState runs fn with the exclusive file lock held and the current
// state loaded, and writes the state back if fn succeeds.
func withLockedState(dataDir string, fn func(st *state) error) error {
	dir, st, unlock, err := lockState(dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := fn(st); err != nil {
		return err
	}
	return saveState(dir, st)
}

// AddUser adds a user to the provider's store under dataDir and returns its
// generated password. admin grants the realm role edgeway-admin. It is safe
// to call while the provider runs (and from another process): the provider
// sees the user on its next lookup.
func AddUser(dataDir, name string, admin bool) (password string, err error) {
	if err := validateUserName(name); err != nil {
		return "", err
	}
	password = newPassword()
	hash, err := hashSecret(password)
	if err != nil {
		return "", err
	}
	err = withLockedState(dataDir, func(st *state) error {
		if _, ok := st.Users[name]; ok {
			return fmt.Errorf("user %q: %w", name, ErrAlreadyExists)
		}
		st.Users[name] = &userRecord{ID: newID(), PasswordHash: hash, Admin: admin, Created: time.Now().UTC()}
		return nil
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// AddClient adds a confidential client (client credentials grant) to the
// provider's store under dataDir and returns its generated secret. admin
// grants its service account the realm role edgeway-admin. Like AddUser it
// is safe while the provider runs.
func AddClient(dataDir, name string, admin bool) (secret string, err error) {
	if err := validateClientName(name); err != nil {
		return "", err
	}
	secret = newClientSecret()
	hash, err := hashSecret(secret)
	if err != nil {
		return "", err
	}
	err = withLockedState(dataDir, func(st *state) error {
		if _, ok := st.Clients[name]; ok {
			return fmt.Errorf("client %q: %w", name, ErrAlreadyExists)
		}
		st.Clients[name] = &clientRecord{ServiceAccountID: newID(), SecretHash: hash, Admin: admin, Created: time.Now().UTC()}
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// stateCache serves lookups from the last read of idp.json and re-reads the
// file when it was replaced or modified since.
type stateCache struct {
	path string

	mu    sync.Mutex
	st    *state
	stamp os.FileInfo
}

func newStateCache(dataDir string) *stateCache {
	return &stateCache{path: filepath.Join(devDir(dataDir), stateFile)}
}

// get returns the current state. The returned value must not be modified.
// A file that cannot be read or parsed is an error (fail closed), not a
// fallback to stale data, so a broken edit is noticed.
func (c *stateCache) get() (*state, error) {
	fi, err := os.Stat(c.path)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", c.path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st != nil && sameStamp(c.stamp, fi) {
		return c.st, nil
	}
	st, err := readState(c.path)
	if err != nil {
		return nil, err
	}
	c.st, c.stamp = st, fi
	return st, nil
}

// sameStamp reports whether two stats describe the same file content: the
// same inode (the writer renames a new file into place), size and mtime.
func sameStamp(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
