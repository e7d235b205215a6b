package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ServerConfig returns the configuration of an internal (service-to-service)
// listener: TLS 1.3 only, client certificate required and verified against
// the current CA pool, ALPN h2 and http/1.1. The key pair and pool are taken
// from the Reloader at every handshake, so rotation needs no restart.
// Session tickets are disabled: every connection runs full verification.
//
// The result works with grpc credentials.NewTLS as well as with
// http.Server.TLSConfig (ServeTLS with empty file names).
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		ClientAuth:             tls.RequireAndVerifyClientCert,
		NextProtos:             []string{"h2", "http/1.1"},
		SessionTicketsDisabled: true,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := r.material()
			return &tls.Config{
				MinVersion:             tls.VersionTLS13,
				ClientAuth:             tls.RequireAndVerifyClientCert,
				ClientCAs:              m.pool,
				Certificates:           []tls.Certificate{*m.cert},
				NextProtos:             []string{"h2", "http/1.1"},
				SessionTicketsDisabled: true,
			}, nil
		},
	}
}

// ClientConfig returns the configuration for calls to the service named
// expectService: TLS 1.3 only, the current client certificate presented,
// ALPN h2. The server's chain is verified against the current CA pool in
// VerifyConnection (InsecureSkipVerify only turns off Go's built-in
// host-name check, since services are reached under varying host names);
// its leaf must carry the identity spiffe://edgeway/<expectService>.
// An empty expectService refuses every server.
func (r *Reloader) ClientConfig(expectService string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{"h2"},
		InsecureSkipVerify: true, //nolint:gosec // full verification in VerifyConnection
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return r.material().cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(r.material().pool, cs, expectService)
		},
	}
}

func verifyServer(pool *x509.CertPool, cs tls.ConnectionState, expectService string) error {
	if expectService == "" {
		return errors.New("tlsx: no expected server identity configured")
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tlsx: server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("tlsx: verify server certificate: %w", err)
	}
	got, ok := serviceOf(leaf)
	if !ok {
		return errors.New("tlsx: server certificate carries no Edgeway identity")
	}
	if got != expectService {
		return fmt.Errorf("tlsx: server identity is %q, want %q", got, expectService)
	}
	return nil
}

// publicCipherSuites are the TLS 1.2 suites the public listener accepts:
// ECDHE key exchange with AEAD ciphers only (TLS 1.3 suites are not
// configurable and all fine). The AES-128-GCM ones are required by HTTP/2.
var publicCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// PublicServerConfig returns the configuration of the public HTTPS API
// listener: TLS ≥ 1.2 with modern cipher suites, no client certificate,
// ALPN h2 and http/1.1. Build the Reloader from ServiceFiles(dir, HTTPSName)
// (or the operator's certificate); its CA file is loaded but not used here.
func (r *Reloader) PublicServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: publicCipherSuites,
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   tls.NoClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.material().cert, nil
		},
	}
}
