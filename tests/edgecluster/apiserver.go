package edgecluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	// serviceCIDR is every cluster's --service-cluster-ip-range; nothing is
	// routed to it, it only feeds the Service IP allocator.
	serviceCIDR = "10.96.0.0/16"
	// serviceIP is the first address of serviceCIDR, the "kubernetes"
	// Service, which the serving certificate also names.
	serviceIP = "10.96.0.1"
	// etcdPrefixRoot is the root of every cluster's --etcd-prefix.
	etcdPrefixRoot = "/edgecluster/"
	// stopGrace is how long a cluster may take to exit after SIGTERM before
	// its process group is killed.
	stopGrace = 30 * time.Second
	// pollInterval is the pause between two readiness probes.
	pollInterval = 250 * time.Millisecond
	// tailLines is how much of an apiserver log an error or a failed test shows.
	tailLines = 40
)

// disabledAdmission lists the admission plugins, enabled by default, that
// would reject objects in clusters that have no controller manager:
// ServiceAccount refuses a Pod until the controller manager has created the
// "default" ServiceAccount of its namespace.
const disabledAdmission = "ServiceAccount"

// apiserverArgs returns the flags of a cluster's kube-apiserver; extra comes
// last, so it can override any of them.
func (c *cluster) apiserverArgs(etcdEndpoints string, extra []string) []string {
	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconcilers refuse a loopback address, and nothing
		// in these clusters reaches the API server through its Service.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(c.port),
		"--cert-dir=" + c.pki.dir, // unused with --tls-cert-file; keeps it off /var/run
		"--tls-cert-file=" + c.pki.path(servingCertFile),
		"--tls-private-key-file=" + c.pki.path(servingKeyFile),
		"--client-ca-file=" + c.pki.path(caCertFile),
		"--etcd-servers=" + etcdEndpoints,
		"--etcd-prefix=" + c.etcdPrefix,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=" + serviceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki.path(saPubFile),
		"--service-account-signing-key-file=" + c.pki.path(saKeyFile),
		"--disable-admission-plugins=" + disabledAdmission,
		"--allow-privileged=true",
		"--profiling=false",
	}
	return append(args, extra...)
}

// cluster is one kube-apiserver of a fleet.
type cluster struct {
	name           string
	dir            string // <Dir>/<name>
	etcdPrefix     string
	pki            *pki
	logPath        string
	kubeconfigPath string

	// op serializes start and stop, which can take minutes. The fields
	// below change only under op and mu, and are read under either, so
	// Clusters never waits for a start.
	op         sync.Mutex
	mu         sync.Mutex
	port       int
	kubeconfig []byte
	proc       *process // nil while stopped
}

// state is what <Dir>/<name>/cluster.json keeps, so that a fleet started
// again on the same directory serves its clusters at the same addresses.
type state struct {
	Port       int    `json:"port"`
	EtcdPrefix string `json:"etcdPrefix"`
}

func (c *cluster) url() string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
}

func (c *cluster) public() Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Cluster{
		Name:           c.name,
		URL:            c.url(),
		Kubeconfig:     bytes.Clone(c.kubeconfig),
		KubeconfigPath: c.kubeconfigPath,
		Dir:            c.dir,
		LogPath:        c.logPath,
		Running:        c.proc != nil && !isDone(c.proc.done),
	}
}

// setPort records the port and writes the kubeconfig and state for it.
// Callers hold c.op or own c exclusively.
func (c *cluster) setPort(port int) error {
	url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	kc, err := adminKubeconfig(c.name, url, c.pki)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.WriteFile(c.kubeconfigPath, kc, 0o600); err != nil {
		return err
	}
	c.mu.Lock()
	c.port, c.kubeconfig = port, kc
	c.mu.Unlock()
	st, err := json.Marshal(state{Port: port, EtcdPrefix: c.etcdPrefix})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.dir, "cluster.json"), append(st, '\n'), 0o600)
}

func (c *cluster) setProc(p *process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proc = p
}

// process is one run of kube-apiserver.
type process struct {
	cmd     *exec.Cmd
	logFrom int64         // size of the log file when this run started
	done    chan struct{} // closed when the process has exited
	err     error         // exit status, set before done is closed
}

// start runs the cluster's kube-apiserver and waits until it is ready. When
// newPorts is true and the port turns out to be taken, it moves to a free
// one (the first start of a fleet); otherwise the cluster keeps its address.
// Callers hold c.op.
func (c *cluster) start(ctx context.Context, f *Fleet, newPorts bool) error {
	if c.proc != nil && isDone(c.proc.done) {
		f.log.Warn("kube-apiserver had exited", slog.String("cluster", c.name), slog.Any("status", c.proc.err))
		c.setProc(nil)
	}
	if c.proc != nil {
		return fmt.Errorf("edgecluster: %s is already running", c.name)
	}
	for attempt := 1; ; attempt++ {
		began := time.Now()
		p, err := c.spawn(f.binary, f.etcd.Endpoints()[0], f.args)
		if err != nil {
			return fmt.Errorf("edgecluster: start %s: %w", c.name, err)
		}
		err = c.waitReady(ctx, p, f.readyTimeout)
		if err == nil {
			c.setProc(p)
			f.log.Info("kube-apiserver ready", slog.String("cluster", c.name), slog.String("url", c.url()),
				slog.Duration("took", time.Since(began)))
			return nil
		}
		exited := isDone(p.done)
		c.kill(p)
		tail := c.logTail(p.logFrom)
		if exited && newPorts && attempt < 3 && bytes.Contains(tail, []byte("address already in use")) {
			port, perr := freePort()
			if perr == nil {
				perr = c.setPort(port)
			}
			if perr == nil {
				f.log.Warn("kube-apiserver port taken, moving", slog.String("cluster", c.name), slog.Int("port", port))
				continue
			}
		}
		return fmt.Errorf("edgecluster: %s: %w\n--- tail of %s ---\n%s", c.name, err, c.logPath, tail)
	}
}

func (c *cluster) spawn(binary, etcd string, extra []string) (*process, error) {
	logf, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	st, err := logf.Stat()
	if err != nil {
		return nil, err
	}
	args := c.apiserverArgs(etcd, extra)
	fmt.Fprintf(logf, "=== edgecluster: %s: starting %s", time.Now().Format(time.RFC3339), binary)
	for _, a := range args {
		fmt.Fprintf(logf, " %s", a)
	}
	fmt.Fprintln(logf)

	cmd := exec.Command(binary, args...)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, logFrom: st.Size(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls /readyz with the admin client until it answers 200 and
// the "default" namespace exists, the process exits, ctx ends or timeout
// passes.
func (c *cluster) waitReady(ctx context.Context, p *process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsCfg, err := c.pki.clientTLS()
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	last := errors.New("no answer yet")
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if last = probe(ctx, client, c.url()); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("kube-apiserver exited before it was ready: %v", p.err)
		case <-ctx.Done():
			if isDone(p.done) {
				return fmt.Errorf("kube-apiserver exited before it was ready: %v", p.err)
			}
			return fmt.Errorf("kube-apiserver not ready: %w (last probe: %v)", context.Cause(ctx), last)
		case <-tick.C:
		}
	}
}

// probe returns nil when the API server is ready and has created the
// "default" namespace, which /readyz does not wait for.
func probe(ctx context.Context, client *http.Client, base string) error {
	for _, path := range []string{"/readyz", "/api/v1/namespaces/default"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
		}
	}
	return nil
}

// stop sends SIGTERM to the process group and waits for the exit, killing
// the group after stopGrace. Callers hold c.op.
func (c *cluster) stop(log *slog.Logger) {
	p := c.proc
	if p == nil {
		return
	}
	c.setProc(nil)
	_ = signalGroup(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		log.Warn("kube-apiserver ignored SIGTERM, killing it", slog.String("cluster", c.name))
	}
	c.kill(p)
}

// kill kills what is left of the process group and waits for the exit.
func (c *cluster) kill(p *process) {
	_ = signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// logTail returns the last tailLines lines written to the log since offset.
func (c *cluster) logTail(offset int64) []byte {
	f, err := os.Open(c.logPath)
	if err != nil {
		return []byte(err.Error())
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size()-offset > max {
		offset = st.Size() - max
	}
	data, err := io.ReadAll(io.NewSectionReader(f, offset, max))
	if err != nil {
		return []byte(err.Error())
	}
	return tailOf(data, tailLines)
}

// tailOf returns the last n lines of data.
func tailOf(data []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func freePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// portFree reports whether port can be bound on 127.0.0.1 right now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
