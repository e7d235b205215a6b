package edgecluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvBinary names the environment variable that points at a prebuilt
// kube-apiserver. When it is set and Options.Binary is not, nothing is built.
const EnvBinary = "EDGEWAY_KUBE_APISERVER"

// buildScript is the script, relative to the repository root, that builds
// kube-apiserver into a cache outside the repository.
const buildScript = "scripts/build-kube-apiserver.sh"

var built struct {
	mu   sync.Mutex
	path string // set once a build succeeded
}

// Binary returns the kube-apiserver to run: $EDGEWAY_KUBE_APISERVER if set,
// otherwise the binary that scripts/build-kube-apiserver.sh builds (or finds
// already built) in its cache. The script runs at most once per process when
// it succeeds; ctx bounds it. A cold build takes about 15 CPU-minutes (8 or
// more on 2 idle cores), which can exceed go test's default -timeout: where
// the cache may be cold (CI), run the script before `go test`.
func Binary(ctx context.Context, log *slog.Logger) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return checkBinary(p, EnvBinary+"="+p)
	}
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.path != "" {
		return built.path, nil
	}
	script, err := findBuildScript()
	if err != nil {
		return "", err
	}
	log.Info("building kube-apiserver if not cached", slog.String("script", script))
	start := time.Now()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	setProcAttrs(cmd)
	// Stop `go build` too, and let the script remove its partial output.
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("edgecluster: %s (set %s to a prebuilt kube-apiserver to skip it): %w\n%s",
			script, EnvBinary, err, tailOf(stderr.Bytes(), 40))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	path, err := checkBinary(lines[len(lines)-1], script)
	if err != nil {
		return "", err
	}
	log.Info("kube-apiserver ready to run", slog.String("path", path), slog.Duration("took", time.Since(start)))
	built.path = path
	return path, nil
}

func checkBinary(p, from string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("edgecluster: kube-apiserver from %s: %w", from, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("edgecluster: kube-apiserver from %s: %s is not an executable file", from, abs)
	}
	return abs, nil
}

// findBuildScript looks for the build script in the current directory and
// its parents (a test runs in its package directory, `make run` at the root),
// then next to this source file.
func findBuildScript() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, buildScript)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("edgecluster: " + buildScript + " not found above the current directory; set " +
		EnvBinary + " to a kube-apiserver binary")
}
