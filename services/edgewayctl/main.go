package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type options struct {
	endpoint string
	caFile   string
}

func main() {
	if err := newRoot(os.Stdout).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "edgewayctl:", err)
		os.Exit(1)
	}
}

func newRoot(out io.Writer) *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:           "edgewayctl",
		Short:         "Command-line client for the Edgeway API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&o.endpoint, "endpoint", envOr("EDGEWAY_ENDPOINT", "https://127.0.0.1:9443"), "Edgeway API base URL (env EDGEWAY_ENDPOINT)")
	root.PersistentFlags().StringVar(&o.caFile, "ca-file", os.Getenv("EDGEWAY_CA_FILE"), "CA certificate to trust for the API (env EDGEWAY_CA_FILE; default: system roots)")
	for _, verb := range []string{http.MethodGet, http.MethodDelete} {
		root.AddCommand(&cobra.Command{
			Use:   strings.ToLower(verb) + " PATH",
			Short: verb + " an API path, e.g. " + strings.ToLower(verb) + " /v2/projects",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.do(out, verb, args[0])
			},
		})
	}
	return root
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (o *options) client() (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", o.caFile)
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

func (o *options) do(out io.Writer, method, path string) error {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !strings.HasPrefix(path, "/v2/") && path != "/v2" {
		path = "/v2" + path
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(o.endpoint, "/")+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return errors.New(resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	_, err = out.Write(body)
	return err
}
