package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultReadyTimeout = 90 * time.Second // a cold start creates the dev CA and both embedded stores
	DefaultStopTimeout  = 30 * time.Second
	DefaultMaxBodyBytes = 8388608 // the launcher's default --max-body-bytes
)

// Options describe one `edgeway serve` process.
type Options struct {
	// Target is the --target list; "" means "all".
	Target string
	// DataDir is --data-dir; "" means a fresh temporary directory.
	DataDir string
	// Addrs are the listen addresses; nil means fresh free ports.
	Addrs *Addrs
	// MongoURI and EtcdEndpoints point at external (or dev-stores) stores;
	// empty means the embedded ones.
	MongoURI      string
	EtcdEndpoints []string
	// NoDev leaves out --dev.
	NoDev bool
	// MaxBodyBytes is --max-body-bytes; 0 leaves the server's default.
	MaxBodyBytes int64
	// LogLevel is --log-level; "" means "debug".
	LogLevel string
	// RateLimits keeps the server's rate limits; by default the harness
	// turns them off (later ExtraArgs still win).
	RateLimits bool
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
	// Env is added to the environment of the child.
	Env []string
	// ReadyTimeout bounds the wait for /readyz; 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// LogDir receives the process log; "" means a temporary directory.
	LogDir string
}

// Server is one running (or stopped) `edgeway serve` process.
type Server struct {
	// URL is the HTTPS base URL, e.g. https://127.0.0.1:40123.
	URL string
	// HTTPURL is the plain-HTTP (redirect-only) base URL.
	HTTPURL string
	// AdminURL is the admin listener's base URL (/healthz, /readyz, /metrics).
	AdminURL string
	// DataDir is the --data-dir in use.
	DataDir string
	// Addrs are the listen addresses in use.
	Addrs Addrs
	// LogPath is the file that receives the process's stdout and stderr.
	LogPath string
	// Opts are the resolved options.
	Opts Options

	bin  string
	args []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
	starts  int
}

// Start launches `edgeway serve` with opts, registers its shutdown with
// t.Cleanup (printing the log tail if t failed) and waits until /readyz
// answers 200.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := Spawn(t, opts)
	s.WaitReady(t)
	return s
}

// Spawn launches `edgeway serve` like Start but does not wait for
// readiness; call WaitReady. Use it to start processes that need each other
// before either is ready.
func Spawn(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	if opts.Addrs == nil {
		a := FreeAddrs(t)
		opts.Addrs = &a
	}
	s, err := Launch(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edgeway serve --target=%s log (%s), last lines:\n%s", s.Opts.Target, s.LogPath, s.Tail(60))
		}
		if err := s.Stop(); err != nil {
			t.Logf("stopping edgeway serve --target=%s: %v", s.Opts.Target, err)
		}
	})
	return s
}

// Launch starts `edgeway serve` without a *testing.T (for TestMain). The
// caller must Stop the server. Zero DataDir / LogDir become new temporary
// directories that the caller owns.
func Launch(opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if opts.Target == "" {
		opts.Target = "all"
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "debug"
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.DataDir == "" {
		if opts.DataDir, err = os.MkdirTemp("", "edgeway-e2e-data-"); err != nil {
			return nil, err
		}
	}
	if opts.LogDir == "" {
		if opts.LogDir, err = os.MkdirTemp("", "edgeway-e2e-log-"); err != nil {
			return nil, err
		}
	}
	if opts.Addrs == nil {
		a, err := freeAddrs()
		if err != nil {
			return nil, err
		}
		opts.Addrs = &a
	}
	a := *opts.Addrs
	s := &Server{
		URL:      "https://" + a.HTTPS,
		HTTPURL:  "http://" + a.HTTP,
		AdminURL: "http://" + a.Admin,
		DataDir:  opts.DataDir,
		Addrs:    a,
		LogPath:  filepath.Join(opts.LogDir, "edgeway-"+sanitize(opts.Target)+".log"),
		Opts:     opts,
		bin:      bin,
		args:     serveArgs(opts),
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func serveArgs(o Options) []string {
	a := *o.Addrs
	args := []string{"serve",
		"--target=" + o.Target,
		"--data-dir=" + o.DataDir,
		"--https-addr=" + a.HTTPS,
		"--http-addr=" + a.HTTP,
		"--admin-addr=" + a.Admin,
		"--orchestrator-addr=" + a.Orchestrator,
		"--clusterregistry-addr=" + a.ClusterRegistry,
		"--placement-addr=" + a.Placement,
		"--secrets-addr=" + a.Secrets,
		"--deployer-addr=" + a.Deployer,
		"--log-level=" + o.LogLevel,
	}
	if !o.NoDev {
		args = append(args, "--dev")
	}
	if o.MongoURI != "" {
		args = append(args, "--mongo-uri="+o.MongoURI)
	}
	if len(o.EtcdEndpoints) > 0 {
		args = append(args, "--etcd-endpoints="+strings.Join(o.EtcdEndpoints, ","))
	}
	if o.MaxBodyBytes > 0 {
		args = append(args, "--max-body-bytes="+strconv.FormatInt(o.MaxBodyBytes, 10))
	}
	if !o.RateLimits {
		// Suites send bursts from one identity; the rate-limit test opts in.
		args = append(args, "--rate-per-identity=0", "--rate-per-address=0", "--rate-per-service=0")
	}
	return append(args, o.ExtraArgs...)
}

func (s *Server) start() error {
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own copy
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	fmt.Fprintf(logf, "==== harness: start #%d: %s %s\n", s.starts, s.bin, strings.Join(s.args, " "))
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), s.Opts.Env...)
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	s.cmd, s.done, s.exitErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

// Exited reports whether the current process has exited, and how.
func (s *Server) Exited() (bool, error) {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return true, s.exitErr
	default:
		return false, nil
	}
}

// Pid returns the process id of the current process.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// Ready reports whether GET /readyz on the admin listener answers 200.
func (s *Server) Ready() bool {
	return adminStatus(s.AdminURL+"/readyz") == http.StatusOK
}

// WaitReady waits until the process answers /readyz with 200, failing t at
// once if the process exits and after Opts.ReadyTimeout otherwise.
func (s *Server) WaitReady(t testing.TB) {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool {
		if exited, _ := s.Exited(); exited {
			return true
		}
		return s.Ready()
	}, s.Opts.ReadyTimeout, 100*time.Millisecond,
		"edgeway serve --target=%s not ready after %s; log tail:\n%s", s.Opts.Target, s.Opts.ReadyTimeout, s.Tail(40))
	exited, err := s.Exited()
	require.False(t, exited, "edgeway serve --target=%s exited before it was ready (%v); log tail:\n%s", s.Opts.Target, err, s.Tail(60))
	t.Logf("edgeway serve --target=%s ready in %s (pid %d)", s.Opts.Target, time.Since(start).Round(time.Millisecond), s.Pid())
}

// AwaitReady is WaitReady without a *testing.T (for TestMain).
func (s *Server) AwaitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.Opts.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if exited, err := s.Exited(); exited {
			return fmt.Errorf("edgeway serve --target=%s exited before it was ready: %v", s.Opts.Target, err)
		}
		if s.Ready() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("edgeway serve --target=%s not ready after %s", s.Opts.Target, s.Opts.ReadyTimeout)
		case <-tick.C:
		}
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (s *Server) Kill() {
	s.signalAndWait(syscall.SIGKILL, 0)
}

// Stop sends SIGTERM and waits up to DefaultStopTimeout for the process to
// exit, then kills it. It returns the process's exit error (nil for exit
// status 0), or an error saying it had to be killed.
func (s *Server) Stop() error {
	return s.signalAndWait(syscall.SIGTERM, DefaultStopTimeout)
}

func (s *Server) signalAndWait(sig syscall.Signal, grace time.Duration) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if exited, err := s.Exited(); exited {
		return err
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-done:
			_, err := s.Exited()
			return err
		case <-time.After(grace):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return fmt.Errorf("did not exit within %s of %s; killed", grace, sig)
		}
	}
	<-done
	_, err := s.Exited()
	return err
}

// Restart stops the process if it still runs (SIGTERM) and starts it again
// with the same arguments: the same data dir, stores and ports. It waits for
// readiness.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if exited, _ := s.Exited(); !exited {
		if err := s.Stop(); err != nil {
			t.Logf("stop before restart: %v", err)
		}
	}
	require.NoError(t, s.start())
	s.WaitReady(t)
}

// CAFile is the dev CA certificate that signs the HTTPS server certificate.
func (s *Server) CAFile() string { return filepath.Join(s.DataDir, "tls", "ca.crt") }

// Client returns an HTTP client that trusts only the dev CA
// (<data-dir>/tls/ca.crt, like `curl --cacert`) and does not follow
// redirects. It panics if the CA cannot be read; use TLSConfig for an error.
func (s *Server) Client() *http.Client {
	cfg, err := s.TLSConfig()
	if err != nil {
		panic(err)
	}
	return NewClient(cfg)
}

// TLSConfig returns a TLS client configuration that trusts only the dev CA.
func (s *Server) TLSConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(s.CAFile())
	if err != nil {
		return nil, fmt.Errorf("dev CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("dev CA %s: no certificate in PEM", s.CAFile())
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// NewClient returns an HTTP client with the given TLS configuration that
// does not follow redirects and times out after 60 s.
func NewClient(cfg *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// API returns request helpers bound to this server's /v2 API, as a
// platform admin of the dev identity provider, checking every response
// against the OpenAPI contract. It panics if the embedded
// OpenAPI document does not load (the server could not have started).
func (s *Server) API() *API {
	c, err := LoadContract()
	if err != nil {
		panic(fmt.Sprintf("harness: OpenAPI contract: %v", err))
	}
	api := &API{BaseURL: s.URL + "/v2", HTTP: s.Client(), Contract: c}
	tok, err := s.adminToken()
	if err != nil {
		panic(fmt.Sprintf("harness: admin token: %v", err))
	}
	return api.WithToken(tok)
}

// Tail returns the last n lines of the process log.
func (s *Server) Tail(n int) string { return tailFile(s.LogPath, n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

var adminClient = &http.Client{
	Timeout: 2 * time.Second,
	Transport: &http.Transport{
		// The admin listener is plain HTTP on loopback; keep no idle
		// connections so a restarted process is probed afresh.
		DisableKeepAlives: true,
	},
}

// adminStatus returns the status of GET url, or 0 when there is no answer.
func adminStatus(url string) int {
	resp, err := adminClient.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '_'
	}, s)
}
