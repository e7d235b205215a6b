package harness

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// Addrs holds every listen address of one `edgeway serve` process. The
// service addresses (Orchestrator … Deployer) are where a service in
// --target listens and where the others dial it, so processes of one split
// deployment share them.
type Addrs struct {
	HTTPS, HTTP, Admin string

	Orchestrator, ClusterRegistry, Placement, Secrets, Deployer string
}

// FreeAddrs returns an Addrs with a distinct free loopback port for each
// listener.
func FreeAddrs(t testing.TB) Addrs {
	t.Helper()
	a, err := freeAddrs()
	require.NoError(t, err)
	return a
}

// WithFreePublicAddrs returns a copy of a with fresh HTTPS, HTTP and admin
// ports and the same service addresses: the shape of a second process of a
// split deployment.
func (a Addrs) WithFreePublicAddrs(t testing.TB) Addrs {
	t.Helper()
	ports, err := FreeLoopbackAddrs(3)
	require.NoError(t, err)
	a.HTTPS, a.HTTP, a.Admin = ports[0], ports[1], ports[2]
	return a
}

func freeAddrs() (Addrs, error) {
	p, err := FreeLoopbackAddrs(8)
	if err != nil {
		return Addrs{}, err
	}
	return Addrs{
		HTTPS: p[0], HTTP: p[1], Admin: p[2],
		Orchestrator: p[3], ClusterRegistry: p[4], Placement: p[5], Secrets: p[6], Deployer: p[7],
	}, nil
}

// FreeLoopbackAddrs returns n distinct "127.0.0.1:port" addresses that were
// free a moment ago. All n listeners are open at once so the ports differ.
func FreeLoopbackAddrs(n int) ([]string, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
