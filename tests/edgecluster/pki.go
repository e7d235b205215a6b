package edgecluster

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
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is long enough that a state directory kept for `make run`
// does not expire under its user.
const certValidity = 10 * 365 * 24 * time.Hour

// Names of the files in <Dir>/<cluster>/pki.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "apiserver.crt"
	servingKeyFile  = "apiserver.key"
	adminCertFile   = "admin.crt"
	adminKeyFile    = "admin.key"
	saKeyFile       = "sa.key" // service-account token signing key
	saPubFile       = "sa.pub" // its public half, for verification
)

var pkiFiles = []string{
	caCertFile, caKeyFile, servingCertFile, servingKeyFile,
	adminCertFile, adminKeyFile, saKeyFile, saPubFile,
}

// adminUser and adminGroup are the identity of the admin client certificate;
// system:masters bypasses authorization.
const (
	adminUser  = "edgeway-admin"
	adminGroup = "system:masters"
)

// pki is the key material of one cluster, as PEM.
type pki struct {
	dir string

	caCert, adminCert, adminKey []byte
}

// path returns the path of one of the pkiFiles.
func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// clientTLS returns a TLS configuration that trusts the cluster CA and
// presents the admin certificate.
func (p *pki) clientTLS() (*tls.Config, error) {
	pair, err := tls.X509KeyPair(p.adminCert, p.adminKey)
	if err != nil {
		return nil, fmt.Errorf("admin key pair: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caCert) {
		return nil, errors.New("no certificate in CA bundle")
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// loadOrCreatePKI reads the key material in dir, or generates all of it when
// any file is missing. The serving certificate is for 127.0.0.1, ::1,
// localhost and the in-cluster names of the API server; it does not depend
// on the port, so a cluster keeps its certificates across restarts.
func loadOrCreatePKI(dir, cluster, serviceIP string) (*pki, error) {
	p := &pki{dir: dir}
	complete := true
	for _, f := range pkiFiles {
		if _, err := os.Stat(p.path(f)); errors.Is(err, fs.ErrNotExist) {
			complete = false
		} else if err != nil {
			return nil, err
		}
	}
	if !complete {
		if err := generatePKI(dir, cluster, serviceIP); err != nil {
			return nil, fmt.Errorf("generate PKI: %w", err)
		}
	}
	var err error
	if p.caCert, err = os.ReadFile(p.path(caCertFile)); err != nil {
		return nil, err
	}
	if p.adminCert, err = os.ReadFile(p.path(adminCertFile)); err != nil {
		return nil, err
	}
	if p.adminKey, err = os.ReadFile(p.path(adminKeyFile)); err != nil {
		return nil, err
	}
	if _, err := p.clientTLS(); err != nil {
		return nil, fmt.Errorf("PKI in %s: %w", dir, err)
	}
	return p, nil
}

func generatePKI(dir, cluster, serviceIP string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := newKey()
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour) // tolerate clock skew between processes
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "edgecluster " + cluster + " CA"},
		NotBefore:             now,
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := sign(caTmpl, caTmpl, caKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	servingKey, err := newKey()
	if err != nil {
		return err
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ip := net.ParseIP(serviceIP); ip != nil {
		ips = append(ips, ip)
	}
	servingDER, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:   now,
		NotAfter:    now.Add(certValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		IPAddresses: ips,
	}, caCert, servingKey, caKey)
	if err != nil {
		return err
	}

	adminKey, err := newKey()
	if err != nil {
		return err
	}
	adminDER, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: adminUser, Organization: []string{adminGroup}},
		NotBefore:   now,
		NotAfter:    now.Add(certValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, caCert, adminKey, caKey)
	if err != nil {
		return err
	}

	saKey, err := newKey()
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return err
	}

	files := []struct {
		name, typ string
		der       []byte
	}{
		{caCertFile, "CERTIFICATE", caDER},
		{servingCertFile, "CERTIFICATE", servingDER},
		{adminCertFile, "CERTIFICATE", adminDER},
		{saPubFile, "PUBLIC KEY", saPub},
	}
	for _, k := range []struct {
		name string
		key  *ecdsa.PrivateKey
	}{{caKeyFile, caKey}, {servingKeyFile, servingKey}, {adminKeyFile, adminKey}, {saKeyFile, saKey}} {
		der, err := x509.MarshalECPrivateKey(k.key)
		if err != nil {
			return err
		}
		files = append(files, struct {
			name, typ string
			der       []byte
		}{k.name, "EC PRIVATE KEY", der})
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func sign(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, parentKey crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
}
