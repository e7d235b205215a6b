// Command dev-run is what `make run` starts: two local edge clusters (real
// kube-apiservers built from source, see tests/edgecluster), Edgeway with
// `serve --target=all --dev`, and the registration of both clusters
// (provider "local", clusters edge1 and edge2, label "edge" on both,
// "zone-a" / "zone-b"), then it prints the next step and runs until Ctrl-C.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"edgeway.dev/tests/edgecluster"
)

func main() {
	dataDir := flag.String("data-dir", ".edgeway", "Edgeway data directory (the edge clusters live under <data-dir>/edge)")
	bin := flag.String("edgeway", "bin/edgeway", "the edgeway binary")
	clusters := flag.Int("clusters", 2, "number of local edge clusters")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *dataDir, *bin, *clusters); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "dev-run:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, dataDir, bin string, n int) error {
	fmt.Fprintf(os.Stderr, "starting %d local edge clusters (the first run builds kube-apiserver from source: several minutes)...\n", n)
	fleet, err := edgecluster.Start(ctx, edgecluster.Options{N: n, Dir: filepath.Join(dataDir, "edge"), Log: log})
	if err != nil {
		return fmt.Errorf("edge clusters: %w", err)
	}
	defer fleet.Close()

	cmd := exec.Command(bin, "serve", "--target=all", "--dev", "--data-dir", dataDir)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start edgeway: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	if err := waitReady(ctx, "http://127.0.0.1:9090/readyz", exited); err != nil {
		return err
	}
	api, err := newClient(filepath.Join(dataDir, "tls", "ca.crt"))
	if err != nil {
		return err
	}
	if err := api.login(bin, dataDir); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	if err := api.register(fleet); err != nil {
		return fmt.Errorf("register clusters: %w", err)
	}
	fmt.Fprintf(os.Stderr, `
Edgeway is running: https://127.0.0.1:9443/v2 (CA: %s)
Dev identity provider: https://127.0.0.1:9443/dev-idp; the admin user's password and the
edgeway-ci client's secret are in %s
Edge clusters registered under provider "local": %s
Next: deploy the example composite app to them:
    examples/shop/deploy.sh up && examples/shop/deploy.sh status
Press Ctrl-C to stop everything.
`, filepath.Join(dataDir, "tls", "ca.crt"), filepath.Join(dataDir, "dev", "credentials.json"), names(fleet))
	select {
	case <-ctx.Done():
		return nil
	case err := <-exited:
		return fmt.Errorf("edgeway exited: %v", err)
	}
}

func names(f *edgecluster.Fleet) string {
	var out []string
	for _, c := range f.Clusters() {
		out = append(out, c.Name)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func waitReady(ctx context.Context, url string, exited <-chan error) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("edgeway exited before it was ready: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

type client struct {
	http  *http.Client
	base  string
	token string
}

// login obtains a platform-admin token for registering the clusters: a
// confidential admin client "dev-run" of the dev identity provider, created
// on the first run, its secret kept (0600) beside the provider's files.
func (c *client) login(bin, dataDir string) error {
	path := filepath.Join(dataDir, "dev", "dev-run-client.json")
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		out, err := exec.Command(bin, "dev-idp", "add-client", "--data-dir", dataDir, "--admin", "dev-run").Output()
		if err != nil {
			return fmt.Errorf("edgeway dev-idp add-client: %w", err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return err
		}
		b = out
	}
	if err := json.Unmarshal(b, &creds); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequest(http.MethodPost, "https://127.0.0.1:9443/dev-idp/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(creds.ClientID, creds.ClientSecret)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		return fmt.Errorf("token endpoint: %s", resp.Status)
	}
	c.token = tr.AccessToken
	return nil
}

func newClient(caFile string) (*client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &client{
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		base: "https://127.0.0.1:9443/v2",
	}, nil
}

// do sends a request; 409 (already registered by an earlier run) is fine.
func (c *client) do(method, path, contentType string, body []byte) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	return nil
}

func (c *client) register(f *edgecluster.Fleet) error {
	if err := c.do(http.MethodPost, "/cluster-providers", "application/json", []byte(`{"metadata":{"name":"local","description":"local edge clusters of make run"}}`)); err != nil {
		return err
	}
	for i, cl := range f.Clusters() {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("metadata", fmt.Sprintf(`{"metadata":{"name":%q}}`, cl.Name))
		fw, _ := mw.CreateFormFile("file", "kubeconfig")
		_, _ = fw.Write(cl.Kubeconfig)
		_ = mw.Close()
		if err := c.do(http.MethodPost, "/cluster-providers/local/clusters", mw.FormDataContentType(), buf.Bytes()); err != nil {
			return err
		}
		// A restarted fleet keeps its ports and certificates, so an existing
		// registration stays valid; refresh it anyway in case it moved.
		if err := c.do(http.MethodPut, "/cluster-providers/local/clusters/"+cl.Name, mw.FormDataContentType(), buf.Bytes()); err != nil {
			return err
		}
		zone := fmt.Sprintf("zone-%c", 'a'+i)
		for _, l := range []string{"edge", zone} {
			if err := c.do(http.MethodPost, "/cluster-providers/local/clusters/"+cl.Name+"/labels", "application/json", []byte(`{"clusterLabel":"`+l+`"}`)); err != nil {
				return err
			}
		}
	}
	return nil
}
