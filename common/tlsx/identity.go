package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"path/filepath"
	"regexp"
)

const (
	// TrustDomain is the SPIFFE trust domain of Edgeway service identities.
	TrustDomain = "edgeway"
	// HTTPSName is the file name stem (https.crt, https.key) of the
	// certificate for the public HTTPS listener.
	HTTPSName = "https"
)

// serviceNameRE: a DNS label, so the name is usable as a file name stem,
// a DNS SAN and a SPIFFE path segment.
var serviceNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidServiceName reports whether name can be a service identity:
// a lower-case DNS label.
func ValidServiceName(name string) bool { return serviceNameRE.MatchString(name) }

// ServiceURI returns the identity URI of a service: spiffe://edgeway/<name>.
func ServiceURI(name string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + name}
}

// serviceOf returns the service name of cert's spiffe://edgeway/<name> URI
// SAN. A certificate with no such SAN, or with more than one, has none.
func serviceOf(cert *x509.Certificate) (string, bool) {
	name, found := "", 0
	for _, u := range cert.URIs {
		if u.Scheme != "spiffe" || u.Host != TrustDomain {
			continue
		}
		found++
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(u.Path) < 2 {
			return "", false
		}
		name = u.Path[1:]
	}
	if found != 1 || !ValidServiceName(name) {
		return "", false
	}
	return name, true
}

// PeerService returns the service name from the spiffe://edgeway/<name> URI
// SAN of the peer's verified leaf certificate. It reports false when the
// connection has no verified chain (no client certificate, or the client
// side of a ClientConfig connection, whose identity check is done by
// ClientConfig itself) or the leaf carries no single Edgeway identity.
func PeerService(cs *tls.ConnectionState) (string, bool) {
	if cs == nil || !cs.HandshakeComplete || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", false
	}
	return serviceOf(cs.VerifiedChains[0][0])
}

// Files names the PEM files a service needs for mTLS.
type Files struct {
	CA   string // CA bundle that verifies peers
	Cert string // this service's certificate (chain)
	Key  string // this service's private key
}

// ServiceFiles returns the file layout EnsureDevPKI writes:
// dir/ca.crt, dir/<name>.crt, dir/<name>.key. Use name HTTPSName for the
// public HTTPS listener's certificate.
func ServiceFiles(dir, name string) Files {
	return Files{
		CA:   filepath.Join(dir, "ca.crt"),
		Cert: filepath.Join(dir, name+".crt"),
		Key:  filepath.Join(dir, name+".key"),
	}
}
