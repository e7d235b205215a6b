package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// DevStores is a running `edgeway dev-stores` process: the embedded
// FerretDB and etcd, plus the dev CA under DataDir/tls, shared by several
// `edgeway serve` processes.
type DevStores struct {
	DataDir       string
	MongoURI      string   `json:"mongo_uri"`
	EtcdEndpoints []string `json:"etcd_endpoints"`
	LogPath       string

	cmd  *exec.Cmd
	done chan struct{}
}

// StartDevStores runs `edgeway dev-stores` on dataDir ("" means a fresh
// temporary directory) with free loopback ports, waits for the one JSON
// line it prints when ready, and stops it (SIGTERM) when the test ends.
func StartDevStores(t testing.TB, dataDir string) *DevStores {
	t.Helper()
	bin := RequireBinary(t)
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	ports, err := FreeLoopbackAddrs(2)
	require.NoError(t, err)
	logPath := filepath.Join(t.TempDir(), "edgeway-dev-stores.log")
	logf, err := os.Create(logPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logf.Close() })

	cmd := exec.Command(bin, "dev-stores",
		"--data-dir="+dataDir, "--mongo-addr="+ports[0], "--etcd-addr="+ports[1])
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	setProcAttrs(cmd)
	require.NoError(t, cmd.Start())

	ds := &DevStores{DataDir: dataDir, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil || line != "" {
			lines <- line
		}
		close(lines)
		// Keep draining so the child never blocks on a full pipe.
		fmt.Fprintf(logf, "==== harness: dev-stores stdout line: %s\n", line)
		_, _ = io.Copy(logf, r)
	}()
	waitErr := make(chan error, 1)
	go func() {
		waitErr <- cmd.Wait()
		close(ds.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edgeway dev-stores log (%s), last lines:\n%s", logPath, tailFile(logPath, 40))
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-ds.done:
		case <-time.After(DefaultStopTimeout):
			_ = cmd.Process.Kill()
			<-ds.done
			t.Logf("edgeway dev-stores did not exit within %s of SIGTERM; killed", DefaultStopTimeout)
		}
	})

	var line string
	select {
	case l, ok := <-lines:
		require.True(t, ok, "edgeway dev-stores closed stdout without a line; log:\n%s", tailFile(logPath, 40))
		line = l
	case err := <-waitErr:
		require.FailNow(t, "edgeway dev-stores exited before it was ready", "%v; log:\n%s", err, tailFile(logPath, 40))
	case <-time.After(DefaultReadyTimeout):
		require.FailNow(t, "edgeway dev-stores printed nothing", "after %s; log:\n%s", DefaultReadyTimeout, tailFile(logPath, 40))
	}
	require.NoError(t, json.Unmarshal([]byte(line), ds), "dev-stores line %q", line)
	require.NotEmpty(t, ds.MongoURI, "dev-stores line %q has no mongo_uri", line)
	require.NotEmpty(t, ds.EtcdEndpoints, "dev-stores line %q has no etcd_endpoints", line)
	t.Logf("edgeway dev-stores ready: %s", line)
	return ds
}
