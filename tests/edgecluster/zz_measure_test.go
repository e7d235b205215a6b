package edgecluster_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgeway.dev/tests/edgecluster"
)

func rss(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), dir) {
			continue
		}
		st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") {
				out[e.Name()] += strings.Join(strings.Fields(l), " ") + "; "
			}
		}
	}
	return out
}

func TestZZMeasure(t *testing.T) {
	if os.Getenv("MEASURE") == "" {
		t.Skip()
	}
	for _, n := range []int{1, 2, 1, 2} {
		dir := t.TempDir()
		began := time.Now()
		f := edgecluster.StartT(t, edgecluster.Options{N: n, Dir: dir})
		t.Logf("N=%d ready in %s", n, time.Since(began))
		t.Logf("N=%d RSS right after ready: %v", n, rss(t, dir))
		time.Sleep(20 * time.Second)
		t.Logf("N=%d RSS after 20 s: %v", n, rss(t, dir))
		f.Close()
	}
}
