package devstores

import (
	"fmt"
	"net"
	"strconv"
)

// splitLoopback splits addr ("host:port") and checks that host is a loopback
// address (or "localhost").
func splitLoopback(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("devstores: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", 0, fmt.Errorf("devstores: address %q: only loopback addresses are allowed (the embedded stores have no authentication)", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("devstores: address %q: bad port", addr)
	}
	return host, port, nil
}

// freePort returns a TCP port that was free on host a moment ago.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devstores: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
