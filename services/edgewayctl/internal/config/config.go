package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultEndpoint is the endpoint of `make run` and `edgeway serve --dev`.
const DefaultEndpoint = "https://127.0.0.1:9443"

// Environment variables the configuration reads.
const (
	EnvConfig       = "EDGEWAY_CONFIG"
	EnvEndpoint     = "EDGEWAY_ENDPOINT"
	EnvCAFile       = "EDGEWAY_CA_FILE"
	EnvClientID     = "EDGEWAY_CLIENT_ID"
	EnvClientSecret = "EDGEWAY_CLIENT_SECRET"
)

// Token sources.
const (
	// MethodAuto uses client credentials when a client id and secret are
	// configured, and the login session otherwise.
	MethodAuto = ""
	// MethodLogin uses the tokens `edgewayctl login` cached, refreshing them.
	MethodLogin = "login"
	// MethodClientCredentials obtains tokens with a confidential client's
	// id and secret (the CI path).
	MethodClientCredentials = "client-credentials"
)

// Config is the resolved configuration.
type Config struct {
	// Endpoint is the gateway's base URL, e.g. https://edgeway.example:9443.
	Endpoint string `yaml:"endpoint,omitempty"`
	// CAFile is a PEM file of CA certificates trusted in addition to the
	// system roots (which honour SSL_CERT_FILE and SSL_CERT_DIR).
	CAFile string `yaml:"caFile,omitempty"`
	Auth   Auth   `yaml:"auth,omitempty"`

	// Path is the config file that was read or is to be written.
	Path string `yaml:"-"`
	// Loaded tells whether Path existed.
	Loaded bool `yaml:"-"`
}

// Auth selects and configures the token source.
type Auth struct {
	// Method is "", "login" or "client-credentials".
	Method string `yaml:"method,omitempty"`
	// ClientID and ClientSecret (or ClientSecretFile) are a confidential
	// client's credentials.
	ClientID         string `yaml:"clientID,omitempty"`
	ClientSecret     string `yaml:"clientSecret,omitempty"`
	ClientSecretFile string `yaml:"clientSecretFile,omitempty"`
	// TokenCache is where login keeps its tokens; default tokens.json next
	// to the config file.
	TokenCache string `yaml:"tokenCache,omitempty"`
}

// Overrides are the values given on the command line; empty means unset.
type Overrides struct {
	Path     string
	Endpoint string
	CAFile   string
}

// DefaultPath is $XDG_CONFIG_HOME/edgeway/config.yaml, or
// ~/.config/edgeway/config.yaml.
func DefaultPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "edgeway", "config.yaml")
}

// Load resolves the configuration: defaults, then the file, then the
// environment, then the overrides. A missing file is fine unless it was
// named explicitly (--config or EDGEWAY_CONFIG).
func Load(o Overrides, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{Endpoint: DefaultEndpoint}
	path, explicit := o.Path, o.Path != ""
	if path == "" {
		path = getenv(EnvConfig)
		explicit = path != ""
	}
	if path == "" {
		path = DefaultPath()
	}
	c.Path = path
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := yaml.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		c.Path, c.Loaded = path, true
		c.CAFile = relativeTo(path, c.CAFile)
		c.Auth.ClientSecretFile = relativeTo(path, c.Auth.ClientSecretFile)
		c.Auth.TokenCache = relativeTo(path, c.Auth.TokenCache)
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config: %w", err)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Endpoint, getenv(EnvEndpoint))
	set(&c.CAFile, getenv(EnvCAFile))
	if id := getenv(EnvClientID); id != "" {
		c.Auth.ClientID = id
		// Credentials in the environment win over a login session in the file.
		if c.Auth.Method == MethodLogin {
			c.Auth.Method = MethodAuto
		}
	}
	if s := getenv(EnvClientSecret); s != "" {
		c.Auth.ClientSecret, c.Auth.ClientSecretFile = s, ""
	}
	set(&c.Endpoint, o.Endpoint)
	set(&c.CAFile, o.CAFile)
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	return c, nil
}

func relativeTo(configPath, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(filepath.Dir(configPath), p)
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.Endpoint); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("endpoint %q: want an https:// URL", c.Endpoint))
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("CA file: %w", err))
		}
	}
	switch c.Auth.Method {
	case MethodAuto:
		if c.Auth.ClientID != "" && c.Auth.ClientSecret == "" && c.Auth.ClientSecretFile == "" {
			errs = append(errs, fmt.Errorf("client id %q has no secret (EDGEWAY_CLIENT_SECRET, auth.clientSecret or auth.clientSecretFile)", c.Auth.ClientID))
		}
	case MethodLogin:
	case MethodClientCredentials:
		if c.Auth.ClientID == "" {
			errs = append(errs, errors.New("auth method client-credentials needs a client id (auth.clientID or EDGEWAY_CLIENT_ID)"))
		}
		if c.Auth.ClientSecret == "" && c.Auth.ClientSecretFile == "" {
			errs = append(errs, errors.New("auth method client-credentials needs a secret (auth.clientSecret, auth.clientSecretFile or EDGEWAY_CLIENT_SECRET)"))
		}
	default:
		errs = append(errs, fmt.Errorf("auth method %q: want login or client-credentials", c.Auth.Method))
	}
	if c.Auth.ClientSecretFile != "" {
		if _, err := os.Stat(c.Auth.ClientSecretFile); err != nil {
			errs = append(errs, fmt.Errorf("client secret file: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// UsesClientCredentials tells whether the token source is a confidential
// client.
func (c *Config) UsesClientCredentials() bool {
	switch c.Auth.Method {
	case MethodClientCredentials:
		return true
	case MethodAuto:
		return c.Auth.ClientID != "" && (c.Auth.ClientSecret != "" || c.Auth.ClientSecretFile != "")
	}
	return false
}

// ClientSecretValue returns the secret, read from ClientSecretFile if set.
func (c *Config) ClientSecretValue() (string, error) {
	if c.Auth.ClientSecretFile == "" {
		return c.Auth.ClientSecret, nil
	}
	b, err := os.ReadFile(c.Auth.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("client secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// TokenCachePath is where login sessions are kept: auth.tokenCache, or
// tokens.json next to the config file.
func (c *Config) TokenCachePath() string {
	if c.Auth.TokenCache != "" {
		return c.Auth.TokenCache
	}
	return filepath.Join(filepath.Dir(c.Path), "tokens.json")
}

// SaveEndpoint records endpoint and CA file in the config file (created
// with mode 0600 if missing), keeping what else it holds.
func (c *Config) SaveEndpoint(endpoint, caFile string) error {
	var doc map[string]any
	if b, err := os.ReadFile(c.Path); err == nil {
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("config %s: %w", c.Path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("config: %w", err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	doc["endpoint"] = endpoint
	if caFile != "" {
		if abs, err := filepath.Abs(caFile); err == nil {
			caFile = abs
		}
		doc["caFile"] = caFile
	} else {
		delete(doc, "caFile")
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return WriteFileAtomic(c.Path, b, 0o600)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers never see half a file; the file gets
// mode perm whatever the umask.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this fails harmlessly
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
