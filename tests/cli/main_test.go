package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// envCLI names a prebuilt edgewayctl to use instead of building one.
const envCLI = "EDGEWAYCTL_BIN"

const cliPackage = "edgeway.dev/services/edgewayctl"

var cliBuild struct {
	once      sync.Once
	path, dir string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cliBuild.dir != "" {
		_ = os.RemoveAll(cliBuild.dir)
	}
	harness.CleanupBinary()
	os.Exit(code)
}

// cliBinary returns $EDGEWAYCTL_BIN or an edgewayctl built once per test
// process from the workspace.
func cliBinary(t testing.TB) string {
	t.Helper()
	cliBuild.once.Do(func() {
		if p := os.Getenv(envCLI); p != "" {
			cliBuild.path, cliBuild.err = filepath.Abs(p)
			return
		}
		root, err := workspaceRoot()
		if err != nil {
			cliBuild.err = err
			return
		}
		if cliBuild.dir, err = os.MkdirTemp("", "edgewayctl-e2e-bin-"); err != nil {
			cliBuild.err = err
			return
		}
		cliBuild.path = filepath.Join(cliBuild.dir, "edgewayctl")
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", cliBuild.path, cliPackage)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliBuild.err = fmt.Errorf("go build %s: %w\n%s", cliPackage, err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "cli: built %s in %s\n", cliPackage, time.Since(start).Round(time.Millisecond))
	})
	require.NoError(t, cliBuild.err, "edgewayctl binary")
	return cliBuild.path
}

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
			return "", errors.New("no go.work above the current directory; set " + envCLI)
		}
		dir = parent
	}
}

// ctl runs edgewayctl as a user would: its own HOME (so its own
// ~/.config/edgeway), a clean environment plus Env, and Args before every
// command's own arguments.
type ctl struct {
	t    *testing.T
	bin  string
	home string
	Env  []string
	Args []string
}

func newCtl(t *testing.T, args ...string) *ctl {
	return &ctl{t: t, bin: cliBinary(t), home: t.TempDir(), Args: args}
}

// env is the environment of the CLI: nothing of the test's own but PATH.
func (c *ctl) env() []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "TERM=dumb"}, c.Env...)
}

// command returns the exec.Cmd of one invocation.
func (c *ctl) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, append(append([]string{}, c.Args...), args...)...)
	cmd.Env = c.env()
	cmd.Dir = c.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// result is a finished invocation.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("edgewayctl %s → exit %d after %s\n--- stdout ---\n%s--- stderr ---\n%s", strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// run runs edgewayctl to the end (at most 5 minutes) with no input.
func (c *ctl) run(args ...string) result {
	c.t.Helper()
	cmd := c.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	require.NoError(c.t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		require.NoError(c.t, err, "edgewayctl %v", args)
	}
	c.t.Logf("edgewayctl %s → exit %d (%s)", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond))
	return r
}

// ok runs edgewayctl and fails the test unless it exits 0.
func (c *ctl) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	require.Equal(c.t, 0, r.code, "%s", r)
	return r
}

// lineBuffer collects a process's output as it comes, for tests that
// wait for lines while the process runs.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// background is an invocation running while the test acts.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *lineBuffer
	done           chan struct{}
	err            error
	start          time.Time
}

// start starts edgewayctl without waiting for it; it is killed when the
// test ends.
func (c *ctl) start(args ...string) *background {
	c.t.Helper()
	b := &background{cmd: c.command(args...), stdout: &lineBuffer{}, stderr: &lineBuffer{}, done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	b.start = time.Now()
	require.NoError(c.t, b.cmd.Start())
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	c.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
		}
	})
	return b
}

// wait waits for the process to exit and returns its exit code.
func (b *background) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(within):
		require.FailNow(t, "edgewayctl did not exit", "within %s\nstdout:\n%s\nstderr:\n%s", within, b.stdout, b.stderr)
	}
	t.Logf("edgewayctl %s → exited after %s", strings.Join(b.cmd.Args[1:], " "), time.Since(b.start).Round(time.Millisecond))
	var ee *exec.ExitError
	if errors.As(b.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, b.err)
	return 0
}
