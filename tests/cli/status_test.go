package cli

import (
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testStatusWatch follows a deployment with `status --watch --no-color`,
// once in a pipe (plain lines) and once in a pseudo-terminal (the table
// redrawn in place), while the test makes its Deployments ready one cluster
// at a time.
func testStatusWatch(t *testing.T, w *world) {
	c := w.client(t, "watcher")
	file, values := shop(t, "watch", "w",
		app{name: "watch-web", templates: map[string]string{"configmap.yaml": configMapTmpl, "deployment.yaml": deploymentTmpl}})
	c.ok("apply", "-f", file, "-v", values)
	w.waitDeployed(t, "watch", "Instantiated")

	args := []string{"status", digRef("watch"), "--watch", "--no-color", "--interval", "300ms"}
	pipe := c.start(args...)
	term := startPTY(t, c, args...)

	waitFor := func(what string, re *regexp.Regexp) {
		t.Helper()
		require.Eventually(t, func() bool { return re.MatchString(pipe.stdout.String()) && re.MatchString(term.String()) },
			60*time.Second, 100*time.Millisecond, "%s\npipe:\n%s\nterminal:\n%q", what, pipe.stdout, term)
	}
	waitFor("ConfigMaps ready, Deployments not", regexp.MustCompile(`ready 2/4 \[#+-+\]  50%`))
	clusters := w.clusterNames()
	w.markDeploymentReady(t, clusters[0], "watch-web")
	waitFor("one Deployment ready", regexp.MustCompile(`ready 3/4 \[#+-+\]  75%`))
	w.markDeploymentReady(t, clusters[1], "watch-web")

	require.Equal(t, 0, pipe.wait(t, time.Minute), "pipe:\n%s\n%s", pipe.stdout, pipe.stderr)
	out := pipe.stdout.String()
	t.Logf("status --watch in a pipe:\n%s", out)
	require.NotContains(t, out, "\x1b", "no escape sequences in a pipe")
	// Plain lines: the summary and each app × cluster row when they change.
	require.Regexp(t, `(?m)^\[ *\d+s\] watch/shop/v1/edge: Instantiated \(revision 1\), deployed Instantiated 4/4 applied, ready 2/4 `, out)
	require.Regexp(t, `(?m)^\[ *\d+s\]   watch-web on local/`+clusters[0]+`: Available, 2/2 applied, ready 1/2$`, out)
	require.Regexp(t, `(?m)^\[ *\d+s\]   watch-web on local/`+clusters[0]+`: Available, 2/2 applied, ready 2/2$`, out)
	require.Regexp(t, `(?m)ready 4/4 \[#+\] 100%$`, out)
	require.Regexp(t, `(?m)^\[ *\d+s\] watch/shop/v1/edge is ready$`, out)
	require.Less(t, strings.Index(out, "ready 2/4"), strings.Index(out, "ready 3/4"))
	require.Less(t, strings.Index(out, "ready 3/4"), strings.Index(out, "ready 4/4"))

	require.Equal(t, 0, term.wait(t, time.Minute), "terminal:\n%q", term)
	screen := term.String()
	t.Logf("status --watch in a terminal:\n%q", screen)
	require.Regexp(t, `\x1b\[\d+A`, screen, "the table is redrawn in place")
	require.NotRegexp(t, `\x1b\[3\dm`, screen, "--no-color: no colours")
	require.Contains(t, screen, "APP        CLUSTER")
	require.Regexp(t, `watch-web +local/`+clusters[1]+` +Available +2/2 applied +2/2 +\[#{10}\] 100%`, screen)
	require.Contains(t, screen, "watch/shop/v1/edge is ready")

	// Without --watch: one table; -o json is the server's answer.
	r := c.ok("status", digRef("watch"))
	require.Regexp(t, `(?m)^watch/shop/v1/edge: Instantiated \(revision 1\), deployed Instantiated 4/4 applied, ready 4/4`, r.stdout)
	r = c.ok("status", digRef("watch"), "-o", "json")
	require.Contains(t, r.stdout, `"readyStatus": "Ready"`)

	// Shell completion of the group, one level at a time, from the API.
	comp := newCtl(t)
	comp.Env = append(append([]string{}, c.Env...), "EDGEWAY_ENDPOINT="+w.srv.URL, "EDGEWAY_CA_FILE="+w.srv.CAFile())
	for arg, want := range map[string]string{"wat": "watch/\n", "watch/": "watch/shop/v1/\n", "watch/shop/v1/": "watch/shop/v1/edge\n"} {
		r = comp.ok("__complete", "status", arg)
		require.Contains(t, r.stdout, want, "completing %q", arg)
	}

	c.ok("delete", "-f", file, "-v", values)
}

// ptyRun is edgewayctl running in a pseudo-terminal.
type ptyRun struct {
	bg  *background
	out *lineBuffer
	eof chan struct{}
}

func (p *ptyRun) String() string { return p.out.String() }

func (p *ptyRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	code := p.bg.wait(t, within)
	select {
	case <-p.eof:
	case <-time.After(5 * time.Second):
	}
	return code
}

// startPTY starts edgewayctl with a pseudo-terminal as its stdin, stdout
// and stderr (80 × 200 characters).
func startPTY(t *testing.T, c *ctl, args ...string) *ptyRun {
	t.Helper()
	cmd := c.command(args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{} // pty.Start makes a session; no process group of its own
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 80, Cols: 200})
	require.NoError(t, err)
	p := &ptyRun{out: &lineBuffer{}, eof: make(chan struct{}),
		bg: &background{cmd: cmd, stdout: &lineBuffer{}, stderr: &lineBuffer{}, done: make(chan struct{}), start: time.Now()}}
	go func() {
		_, err := io.Copy(p.out, f)
		if err != nil && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
			assert.NoError(t, err, "reading the terminal")
		}
		close(p.eof)
	}()
	go func() {
		p.bg.err = cmd.Wait()
		close(p.bg.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.bg.done:
		default:
			_ = cmd.Process.Kill()
			<-p.bg.done
		}
		_ = f.Close()
	})
	return p
}
