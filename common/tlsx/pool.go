package tlsx

import (
	"crypto/x509"
	"fmt"
	"os"
)

// LoadCAPool reads a PEM file of CA certificates into a pool, for clients
// that must trust the dev CA (the dev identity provider behind the gateway).
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
