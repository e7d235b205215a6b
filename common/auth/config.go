package auth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of Config; a zero field takes its default.
const (
	DefaultUsernameClaim   = "preferred_username"
	DefaultRolesClaim      = "realm_access.roles"
	DefaultGroupsClaim     = "groups"
	DefaultAdminRole       = "edgeway-admin"
	DefaultLeeway          = 30 * time.Second
	DefaultRefetchInterval = 10 * time.Second
)

// maxLeeway bounds Config.Leeway: clocks that disagree by more are broken,
// and a larger leeway would keep expired tokens alive.
const maxLeeway = 5 * time.Minute

// DefaultAlgorithms are the signature algorithms accepted by default:
// asymmetric only.
func DefaultAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}
}

// asymmetric are the algorithms Config.Algorithms may name.
var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

// Config configures a Verifier. Zero fields take the defaults above.
type Config struct {
	// Issuer is the OIDC issuer URL; tokens must carry it exactly as "iss",
	// and discovery reads <Issuer>/.well-known/openid-configuration. It must
	// be https (http is accepted for loopback hosts only).
	Issuer string
	// ClientID must be one of the token's audiences ("aud").
	ClientID string
	// UsernameClaim names the claim holding the user name.
	UsernameClaim string
	// RolesClaim names the claim holding the roles: a string list, reached
	// through a dotted path ("realm_access.roles", or
	// "resource_access.edgeway.roles" for client roles). A claim whose
	// literal name contains dots is found too.
	RolesClaim string
	// GroupsClaim names the claim holding the groups (a string list,
	// dotted path as for RolesClaim).
	GroupsClaim string
	// AdminRole is the role that makes a caller a platform admin.
	AdminRole string
	// Algorithms is the signature algorithm allow-list (asymmetric only;
	// HS* and none are refused by Validate).
	Algorithms []string
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s;
	// at most 5m).
	Leeway time.Duration
	// HTTPClient fetches the discovery document and the JWKS; set it to
	// trust the identity provider's CA. Nil means a client with system
	// roots. A client without Timeout gets one of 10s.
	HTTPClient *http.Client
	// RefetchInterval is the minimum time between two JWKS fetches caused
	// by tokens with an unknown key id (default 10s).
	RefetchInterval time.Duration
}

// RegisterFlags binds the configuration's flags to fs, with the defaults as
// flag defaults.
func (c *Config) RegisterFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Issuer, "oidc-issuer", c.Issuer, "OIDC issuer URL (https); tokens must carry it exactly as iss")
	fs.StringVar(&c.ClientID, "oidc-client-id", c.ClientID, "OIDC client id that must be in the token's audience")
	fs.StringVar(&c.UsernameClaim, "oidc-username-claim", DefaultUsernameClaim, "token claim holding the user name")
	fs.StringVar(&c.RolesClaim, "oidc-roles-claim", DefaultRolesClaim, "token claim (dotted path) holding the roles")
	fs.StringVar(&c.GroupsClaim, "oidc-groups-claim", DefaultGroupsClaim, "token claim (dotted path) holding the groups")
	fs.StringVar(&c.AdminRole, "oidc-admin-role", DefaultAdminRole, "role that makes a caller a platform admin")
}

// withDefaults returns a copy of c whose zero fields hold the defaults.
func (c Config) withDefaults() Config {
	if c.UsernameClaim == "" {
		c.UsernameClaim = DefaultUsernameClaim
	}
	if c.RolesClaim == "" {
		c.RolesClaim = DefaultRolesClaim
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	if c.AdminRole == "" {
		c.AdminRole = DefaultAdminRole
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = DefaultAlgorithms()
	} else {
		c.Algorithms = append([]string(nil), c.Algorithms...)
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.RefetchInterval == 0 {
		c.RefetchInterval = DefaultRefetchInterval
	}
	return c
}

// Validate reports every problem of the configuration at once (zero fields
// count as their defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("oidc-issuer: required"))
	} else if err := checkEndpoint(c.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("oidc-issuer: %w", err))
	}
	if strings.TrimSpace(c.ClientID) == "" {
		errs = append(errs, errors.New("oidc-client-id: required"))
	}
	for _, f := range []struct{ name, path string }{
		{"oidc-username-claim", c.UsernameClaim},
		{"oidc-roles-claim", c.RolesClaim},
		{"oidc-groups-claim", c.GroupsClaim},
	} {
		for _, seg := range strings.Split(f.path, ".") {
			if strings.TrimSpace(seg) == "" {
				errs = append(errs, fmt.Errorf("%s: %q has an empty path segment", f.name, f.path))
				break
			}
		}
	}
	if strings.TrimSpace(c.AdminRole) == "" {
		errs = append(errs, errors.New("oidc-admin-role: must not be blank"))
	}
	for _, a := range c.Algorithms {
		switch {
		case strings.EqualFold(a, "none"), strings.HasPrefix(strings.ToUpper(a), "HS"):
			errs = append(errs, fmt.Errorf("algorithms: %q refused: only asymmetric signature algorithms are allowed", a))
		case !asymmetric[a]:
			errs = append(errs, fmt.Errorf("algorithms: %q is not a supported signature algorithm", a))
		}
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		errs = append(errs, fmt.Errorf("leeway: %s out of range [0, %s]", c.Leeway, maxLeeway))
	}
	if c.RefetchInterval < 0 {
		errs = append(errs, fmt.Errorf("refetch interval: %s must not be negative", c.RefetchInterval))
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts an absolute https URL, or http to a loopback host,
// without user info, query or fragment.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q must be an absolute URL without user info, query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http only for loopback hosts)", raw)
	default:
		return fmt.Errorf("%q must use https", raw)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
