package e2e

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	"edgeway.dev/tests/harness"
)

// sharedMaxBody is the --max-body-bytes of the shared server: small, so the
// 413 checks send little.
const sharedMaxBody = 1 << 20

var shared struct {
	once sync.Once
	srv  *harness.Server
	err  error
	dirs []string
}

// sharedServer returns the all-in-one server that tests without special
// needs share, starting it on first use. It lives until TestMain ends.
func sharedServer(t *testing.T) *harness.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	shared.once.Do(func() {
		var dataDir, logDir string
		if dataDir, shared.err = os.MkdirTemp("", "edgeway-e2e-shared-data-"); shared.err != nil {
			return
		}
		if logDir, shared.err = os.MkdirTemp("", "edgeway-e2e-shared-log-"); shared.err != nil {
			return
		}
		shared.dirs = append(shared.dirs, dataDir, logDir)
		shared.srv, shared.err = harness.Launch(harness.Options{DataDir: dataDir, LogDir: logDir, MaxBodyBytes: sharedMaxBody})
		if shared.err == nil {
			shared.err = shared.srv.AwaitReady()
		}
	})
	if shared.err != nil {
		msg := ""
		if shared.srv != nil {
			msg = "\nlog tail:\n" + shared.srv.Tail(60)
		}
		t.Fatalf("shared all-in-one server: %v%s", shared.err, msg)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared server log (%s), last lines:\n%s", shared.srv.LogPath, shared.srv.Tail(30))
		}
	})
	return shared.srv
}

// skipShort skips tests that start servers of their own in -short mode.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	keep := code != 0 && os.Getenv("E2E_KEEP") != ""
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping the shared server: %v\n", err)
		}
		if keep {
			fmt.Fprintf(os.Stderr, "e2e: shared server data and log kept in %v\n", shared.dirs)
		}
	}
	if !keep {
		for _, d := range shared.dirs {
			_ = os.RemoveAll(d)
		}
	}
	harness.CleanupBinary()
	os.Exit(code)
}
