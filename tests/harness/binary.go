package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// EnvBinary names the environment variable that points at a prebuilt edgeway
// binary. When it is set, the harness uses that binary and builds nothing.
const EnvBinary = "EDGEWAY_BIN"

// launcherPackage is the main package of the launcher.
const launcherPackage = "edgeway.dev/services/edgeway"

var build struct {
	once sync.Once
	path string
	dir  string // temporary directory we created, removed by CleanupBinary
	err  error
}

// Binary returns the path of the edgeway binary: $EDGEWAY_BIN if set,
// otherwise a binary built once per process with `go build` from the
// workspace that contains the current directory.
func Binary() (string, error) {
	build.once.Do(func() {
		build.path, build.dir, build.err = buildBinary()
	})
	return build.path, build.err
}

// RequireBinary is Binary for tests: it fails t when there is no binary.
func RequireBinary(t testing.TB) string {
	t.Helper()
	p, err := Binary()
	require.NoError(t, err, "edgeway binary")
	return p
}

// CleanupBinary removes the binary built by Binary, if any. Call it from
// TestMain after m.Run.
func CleanupBinary() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

func buildBinary() (path, dir string, err error) {
	if p := os.Getenv(EnvBinary); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return abs, "", nil
	}
	root, err := workspaceRoot()
	if err != nil {
		return "", "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("go toolchain not found (set %s to a prebuilt binary): %w", EnvBinary, err)
	}
	dir, err = os.MkdirTemp("", "edgeway-e2e-bin-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "edgeway")
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-o", path, launcherPackage)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build %s (in %s): %w\n%s", launcherPackage, root, err, out)
	}
	fmt.Fprintf(os.Stderr, "harness: built %s in %s\n", launcherPackage, time.Since(start).Round(time.Millisecond))
	return path, dir, nil
}

// workspaceRoot walks up from the current directory to the directory that
// holds go.work.
func workspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the current directory; set " + EnvBinary)
		}
		dir = parent
	}
}
