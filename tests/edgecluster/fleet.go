package edgecluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"edgeway.dev/common/devstores"
)

// DefaultReadyTimeout bounds how long Start and StartCluster wait for a
// kube-apiserver to be ready (one takes 3 to 10 s on 2 cores).
const DefaultReadyTimeout = 120 * time.Second

// Options configures a fleet.
type Options struct {
	// N is the number of clusters; 0 means len(Names), or 1 without Names.
	N int
	// Dir is the state directory: <Dir>/etcd holds the shared etcd data and
	// <Dir>/<name> each cluster's PKI, kubeconfig, cluster.json and
	// apiserver.log. Empty means a temporary directory that Close removes. A
	// fleet started again on the same Dir finds its data, certificates and,
	// when still free, its ports again.
	Dir string
	// Binary is the kube-apiserver to run; empty means $EDGEWAY_KUBE_APISERVER
	// or the one scripts/build-kube-apiserver.sh builds (see Binary).
	Binary string
	// Names are the cluster names, DNS labels; default edge1 … edgeN.
	Names []string
	// Log receives the fleet's own messages and etcd's errors; nil discards
	// them. The API servers log to <Dir>/<name>/apiserver.log.
	Log *slog.Logger
	// ReadyTimeout bounds the wait for each API server to be ready; default
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Args are extra kube-apiserver flags, given after (so overriding) the
	// fleet's own.
	Args []string
}

// Cluster describes one cluster of a fleet.
type Cluster struct {
	Name string
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// Kubeconfig reaches the cluster as an admin (client certificate in group
	// system:masters, CA and key embedded); KubeconfigPath is the same file
	// on disk, <Dir>/<name>/kubeconfig.
	Kubeconfig     []byte
	KubeconfigPath string
	// Dir is <Dir>/<name>; LogPath is the API server's output, which every
	// start appends to.
	Dir     string
	LogPath string
	// Running tells whether the API server was running when Clusters was
	// called.
	Running bool
}

// Fleet is a set of kube-apiservers sharing one embedded etcd.
type Fleet struct {
	log          *slog.Logger
	binary       string
	args         []string
	readyTimeout time.Duration
	dir          string
	removeDir    bool // dir is a temporary directory of ours
	etcd         *devstores.Etcd
	clusters     []*cluster

	closeOnce sync.Once
}

// errSiblingFailed cancels the start of the other clusters when one fails.
var errSiblingFailed = errors.New("another cluster failed to start")

var labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (o *Options) validate() error {
	var errs []error
	if len(o.Names) > 0 && o.N != 0 && o.N != len(o.Names) {
		errs = append(errs, fmt.Errorf("N is %d but %d names are given", o.N, len(o.Names)))
	}
	if o.N < 0 {
		errs = append(errs, fmt.Errorf("N is %d", o.N))
	}
	seen := map[string]bool{}
	for _, n := range o.Names {
		if !labelRE.MatchString(n) || n == "etcd" {
			errs = append(errs, fmt.Errorf("cluster name %q is not a DNS label other than \"etcd\"", n))
		}
		if seen[n] {
			errs = append(errs, fmt.Errorf("cluster name %q appears twice", n))
		}
		seen[n] = true
	}
	if o.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ReadyTimeout is %s", o.ReadyTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("edgecluster: invalid options: %w", err)
	}
	return nil
}

// Start starts a fleet: one embedded etcd, then the kube-apiservers
// concurrently, each with its own PKI, port and --etcd-prefix
// (/edgecluster/<name>), and returns once every one answers /readyz. ctx
// bounds the start (including a build of kube-apiserver), not the fleet's
// life: Close stops it. On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *Fleet, err error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	names := opts.Names
	if len(names) == 0 {
		n := max(opts.N, 1)
		for i := 1; i <= n; i++ {
			names = append(names, fmt.Sprintf("edge%d", i))
		}
	}
	f := &Fleet{
		log:          opts.Log,
		binary:       opts.Binary,
		args:         opts.Args,
		readyTimeout: opts.ReadyTimeout,
		dir:          opts.Dir,
	}
	if f.log == nil {
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if f.readyTimeout == 0 {
		f.readyTimeout = DefaultReadyTimeout
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()

	if f.binary == "" {
		if f.binary, err = Binary(ctx, f.log); err != nil {
			return nil, err
		}
	} else if f.binary, err = checkBinary(f.binary, "Options.Binary"); err != nil {
		return nil, err
	}
	if f.dir == "" {
		if f.dir, err = os.MkdirTemp("", "edgecluster-"); err != nil {
			return nil, err
		}
		f.removeDir = true
	} else if f.dir, err = filepath.Abs(f.dir); err != nil {
		return nil, err
	}

	if err := f.prepare(names); err != nil {
		return nil, err
	}
	began := time.Now()
	if f.etcd, err = devstores.StartEtcd(filepath.Join(f.dir, "etcd"), "127.0.0.1:0", f.log); err != nil {
		return nil, fmt.Errorf("edgecluster: %w", err)
	}
	f.log.Info("etcd ready", slog.String("endpoint", f.etcd.Endpoints()[0]), slog.Duration("took", time.Since(began)))

	// The first cluster that fails stops the wait for the others.
	startCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errs := make([]error, len(f.clusters))
	var wg sync.WaitGroup
	for i, c := range f.clusters {
		wg.Go(func() {
			c.op.Lock()
			defer c.op.Unlock()
			if errs[i] = c.start(startCtx, f, true); errs[i] != nil {
				cancel(errSiblingFailed)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if errors.Is(err, errSiblingFailed) {
			errs[i] = nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	f.log.Info("fleet ready", slog.Int("clusters", len(f.clusters)), slog.Duration("took", time.Since(began)))
	return f, nil
}

// prepare creates each cluster's directory, PKI, port and kubeconfig,
// reusing what a previous fleet left in f.dir.
func (f *Fleet) prepare(names []string) error {
	fresh, err := freePorts(len(names))
	if err != nil {
		return fmt.Errorf("edgecluster: free ports: %w", err)
	}
	for i, name := range names {
		dir := filepath.Join(f.dir, name)
		p, err := loadOrCreatePKI(filepath.Join(dir, "pki"), name, serviceIP)
		if err != nil {
			return fmt.Errorf("edgecluster: %s: %w", name, err)
		}
		c := &cluster{
			name:           name,
			dir:            dir,
			etcdPrefix:     etcdPrefixRoot + name,
			pki:            p,
			logPath:        filepath.Join(dir, "apiserver.log"),
			kubeconfigPath: filepath.Join(dir, "kubeconfig"),
		}
		port := fresh[i]
		var old state
		if data, err := os.ReadFile(filepath.Join(dir, "cluster.json")); err == nil && json.Unmarshal(data, &old) == nil &&
			old.Port > 0 && !containsInt(fresh, old.Port) && portFree(old.Port) {
			port = old.Port
		}
		if err := c.setPort(port); err != nil {
			return fmt.Errorf("edgecluster: %s: %w", name, err)
		}
		f.clusters = append(f.clusters, c)
	}
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Clusters describes the clusters, in the order of their names.
func (f *Fleet) Clusters() []Cluster {
	out := make([]Cluster, len(f.clusters))
	for i, c := range f.clusters {
		out[i] = c.public()
	}
	return out
}

// Cluster describes the cluster called name.
func (f *Fleet) Cluster(name string) (Cluster, bool) {
	c, err := f.find(name)
	if err != nil {
		return Cluster{}, false
	}
	return c.public(), true
}

// Dir is the fleet's state directory.
func (f *Fleet) Dir() string { return f.dir }

// StopCluster stops one cluster's API server (SIGTERM, then SIGKILL after
// 30 s) and waits until it has exited; its data stays in etcd. Stopping a
// stopped cluster does nothing.
func (f *Fleet) StopCluster(name string) error {
	c, err := f.find(name)
	if err != nil {
		return err
	}
	c.op.Lock()
	defer c.op.Unlock()
	c.stop(f.log)
	f.log.Info("kube-apiserver stopped", slog.String("cluster", name))
	return nil
}

// StartCluster starts a stopped cluster again with the same port,
// certificates and etcd prefix, so kubeconfigs handed out before still work
// and its objects are back, and waits until it is ready. ctx bounds the wait.
func (f *Fleet) StartCluster(ctx context.Context, name string) error {
	c, err := f.find(name)
	if err != nil {
		return err
	}
	c.op.Lock()
	defer c.op.Unlock()
	return c.start(ctx, f, false)
}

// LogTail returns the last lines of a cluster's apiserver.log.
func (f *Fleet) LogTail(name string) (string, error) {
	c, err := f.find(name)
	if err != nil {
		return "", err
	}
	return string(c.logTail(0)), nil
}

func (f *Fleet) find(name string) (*cluster, error) {
	for _, c := range f.clusters {
		if c.name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("edgecluster: no cluster %q", name)
}

// Close stops every API server, then etcd, and removes the state directory
// if Start made it. It may be called more than once.
func (f *Fleet) Close() {
	f.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, c := range f.clusters {
			wg.Go(func() {
				c.op.Lock()
				defer c.op.Unlock()
				c.stop(f.log)
			})
		}
		wg.Wait()
		if f.etcd != nil {
			f.etcd.Stop()
		}
		if f.removeDir {
			_ = os.RemoveAll(f.dir)
		}
	})
}
