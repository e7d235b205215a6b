package tlsx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore: a leaf that expires sooner than this is reissued.
	renewBefore = 30 * 24 * time.Hour
	// backdate tolerates clock skew between processes.
	backdate = 5 * time.Minute
)

// authority is a loaded CA: certificate and key.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

// leafSpec describes a certificate EnsureDevPKI maintains.
type leafSpec struct {
	name string   // file name stem and subject CN
	uri  *url.URL // identity URI SAN, nil for the public HTTPS cert
	dns  []string
	ips  []net.IP
	eku  []x509.ExtKeyUsage
}

func loopbackIPs() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback} }

func serviceSpec(name string) leafSpec {
	return leafSpec{
		name: name,
		uri:  ServiceURI(name),
		dns:  []string{name, "localhost"},
		ips:  loopbackIPs(),
		eku:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

func httpsSpec() leafSpec {
	return leafSpec{
		name: HTTPSName,
		dns:  []string{"localhost"},
		ips:  loopbackIPs(),
		eku:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// EnsureDevPKI makes dir hold a development PKI:
//
//   - ca.crt, ca.key: a CA (ECDSA P-256, 10 years);
//   - <name>.crt, <name>.key for every name in services: a leaf signed by
//     the CA (1 year) with URI SAN spiffe://edgeway/<name>, DNS SANs <name>
//     and localhost, IP SANs 127.0.0.1 and ::1, usable as server and client;
//   - https.crt, https.key: the public HTTPS listener's certificate
//     (localhost, 127.0.0.1, ::1; server only).
//
// Files that exist and are valid are kept; missing, unparsable, mismatched
// or soon-expiring (30 days) leaves are (re)issued from the existing CA. An
// existing but unusable CA is an error, never silently replaced. Private keys
// are written with mode 0600 and dir is made 0700.
//
// Concurrent calls on the same dir, from goroutines or processes, are
// serialized with a lock file; every file is written to a temporary name and
// renamed into place, so readers never see a half-written file.
func EnsureDevPKI(dir string, services []string) error {
	for _, s := range services {
		if !ValidServiceName(s) {
			return fmt.Errorf("tlsx: invalid service name %q", s)
		}
		if s == "ca" || s == HTTPSName {
			return fmt.Errorf("tlsx: service name %q is reserved", s)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlsx: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("tlsx: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("tlsx: lock %s: %w", dir, err)
	}
	defer unlock()

	now := time.Now()
	ca, err := ensureCA(dir, now)
	if err != nil {
		return err
	}
	specs := []leafSpec{httpsSpec()}
	for _, s := range services {
		specs = append(specs, serviceSpec(s))
	}
	for _, spec := range specs {
		if leafOK(dir, ca, spec, now) {
			continue
		}
		if err := issueLeafFiles(dir, ca, spec, now.Add(-backdate), now.Add(leafValidity)); err != nil {
			return err
		}
	}
	return nil
}

func ensureCA(dir string, now time.Time) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	if errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist) {
		return createCA(dir, now)
	}
	ca, err := loadCA(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("tlsx: existing CA in %s is unusable (remove ca.crt and ca.key to create a new one): %w", dir, err)
	}
	if now.Add(renewBefore).After(ca.cert.NotAfter) {
		return nil, fmt.Errorf("tlsx: CA in %s expires %s (remove ca.crt and ca.key to create a new one)", dir, ca.cert.NotAfter.Format(time.RFC3339))
	}
	return ca, nil
}

func createCA(dir string, now time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsx: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Edgeway development CA", Organization: []string{"Edgeway"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsx: create CA: %w", err)
	}
	if err := writePair(dir, "ca", der, key); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsx: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &authority{cert: cert, key: key, pool: pool}, nil
}

func loadCA(certPath, keyPath string) (*authority, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	cert := pair.Leaf
	if cert == nil {
		if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, err
		}
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca.crt is not a CA certificate")
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("ca.key is not a signing key")
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &authority{cert: cert, key: signer, pool: pool}, nil
}

// leafOK reports whether dir holds a usable certificate and key for spec.
func leafOK(dir string, ca *authority, spec leafSpec, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, spec.name+".crt"), filepath.Join(dir, spec.name+".key"))
	if err != nil {
		return false
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return false
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       ca.pool,
		CurrentTime: now.Add(renewBefore),
		KeyUsages:   spec.eku,
	}); err != nil {
		return false
	}
	if spec.uri != nil {
		if name, ok := serviceOf(leaf); !ok || name != spec.name {
			return false
		}
	}
	for _, d := range spec.dns {
		if !slices.Contains(leaf.DNSNames, d) {
			return false
		}
	}
	for _, ip := range spec.ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// issueLeafFiles issues a new key and certificate for spec and writes them
// to dir/<spec.name>.{key,crt}.
func issueLeafFiles(dir string, ca *authority, spec leafSpec, notBefore, notAfter time.Time) error {
	der, key, err := issueLeaf(ca, spec, notBefore, notAfter)
	if err != nil {
		return err
	}
	return writePair(dir, spec.name, der, key)
}

func issueLeaf(ca *authority, spec leafSpec, notBefore, notAfter time.Time) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsx: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: spec.name, Organization: []string{"Edgeway"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           spec.eku,
		BasicConstraintsValid: true,
		DNSNames:              spec.dns,
		IPAddresses:           spec.ips,
	}
	if spec.uri != nil {
		tmpl.URIs = []*url.URL{spec.uri}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsx: issue %s: %w", spec.name, err)
	}
	return der, key, nil
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails
	b[0] &= 0x7f        // positive
	b[0] |= 0x01        // non-zero, full length
	return new(big.Int).SetBytes(b)
}

// writePair writes <stem>.key (0600) and <stem>.crt (0644) atomically each:
// both are written to temporary files first, then renamed into place, key
// first. A reader may briefly see the new key with the old certificate; the
// Reloader treats that as a failed load and retries.
func writePair(dir, stem string, certDER []byte, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlsx: %w", err)
	}
	keyTmp, err := writeTemp(dir, stem+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	if err != nil {
		return err
	}
	certTmp, err := writeTemp(dir, stem+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644)
	if err != nil {
		_ = os.Remove(keyTmp)
		return err
	}
	if err := os.Rename(keyTmp, filepath.Join(dir, stem+".key")); err != nil {
		_ = os.Remove(keyTmp)
		_ = os.Remove(certTmp)
		return fmt.Errorf("tlsx: %w", err)
	}
	if err := os.Rename(certTmp, filepath.Join(dir, stem+".crt")); err != nil {
		_ = os.Remove(certTmp)
		return fmt.Errorf("tlsx: %w", err)
	}
	return nil
}

func writeTemp(dir, name string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("tlsx: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", fmt.Errorf("tlsx: write %s: %w", name, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("tlsx: write %s: %w", name, err)
	}
	return tmp, nil
}
