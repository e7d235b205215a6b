package secrets

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
)

// Config configures the secrets service and the key commands (Init, Rotate,
// Status, Retire).
type Config struct {
	// DataDir is the launcher's data directory. The keyset must not lie in
	// the embedded stores' directories under it (<DataDir>/ferretdb,
	// <DataDir>/etcd): key-encryption keys stay outside the databases.
	DataDir string
	// KeysetFile is the tink keyset (JSON, mode 0600) holding the data
	// encryption keys. Required outside Dev; in Dev it defaults to
	// <DataDir>/keys/keyset.json.
	KeysetFile string
	// Dev generates the keyset on first start when KeysetFile is missing.
	// Outside Dev a missing keyset is an error (create it with Init).
	Dev bool
	// MasterKeyFile, when set, is a tink AEAD keyset (cleartext JSON) whose
	// primitive encrypts the keyset at rest. It stands in for a KMS: a KMS
	// client plugs in as the tink.AEAD of FileKeySource.Master.
	MasterKeyFile string
	// MaxBodyBytes bounds the bodies of the project secrets' REST requests
	// (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// ReencryptInterval is the time between two runs of the job that moves
	// the project secrets onto the primary key after a rotation; a change
	// of primary key starts a run at once (within ReencryptCheck). 0:
	// DefaultReencryptInterval.
	ReencryptInterval time.Duration
}

// Defaults of the project secrets' settings.
const (
	DefaultMaxBodyBytes      = 8 << 20
	DefaultReencryptInterval = time.Minute
	// ReencryptCheck is how often the job looks for a new primary key.
	ReencryptCheck = 5 * time.Second
)

// DefaultKeysetFile is the dev keyset location under a data directory.
func DefaultKeysetFile(dataDir string) string {
	return filepath.Join(dataDir, "keys", "keyset.json")
}

// RegisterFlags binds the file settings to flags, with c's current values
// as defaults. DataDir and Dev are the launcher's (--data-dir, --dev).
func (c *Config) RegisterFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.KeysetFile, "secrets-keyset-file", c.KeysetFile, "tink keyset (JSON, mode 0600) of the secrets service (default in --dev: <data-dir>/keys/keyset.json, generated on first start)")
	fs.StringVar(&c.MasterKeyFile, "secrets-master-key-file", c.MasterKeyFile, "optional tink AEAD keyset (JSON) encrypting the keyset file at rest, standing in for a KMS")
}

// withDefaults fills the dev keyset location.
func (c Config) withDefaults() Config {
	if c.KeysetFile == "" && c.Dev {
		c.KeysetFile = DefaultKeysetFile(c.DataDir)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReencryptInterval <= 0 {
		c.ReencryptInterval = DefaultReencryptInterval
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.KeysetFile == "" {
		errs = append(errs, errors.New("secrets: a keyset file is required outside dev mode (--secrets-keyset-file)"))
	}
	for _, f := range []struct{ what, path string }{{"keyset file", c.KeysetFile}, {"master key file", c.MasterKeyFile}} {
		if f.path == "" {
			continue
		}
		if err := checkKeyPath(c.DataDir, f.path); err != nil {
			errs = append(errs, fmt.Errorf("secrets: %s: %w", f.what, err))
		}
	}
	if c.KeysetFile != "" && c.MasterKeyFile != "" && samePath(c.KeysetFile, c.MasterKeyFile) {
		errs = append(errs, errors.New("secrets: the master key file must not be the keyset file"))
	}
	return errors.Join(errs...)
}
