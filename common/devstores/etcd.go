package devstores

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
)

// etcdReadyTimeout bounds how long StartEtcd waits for the member to be ready.
const etcdReadyTimeout = 60 * time.Second

// Etcd is an in-process single-member etcd listening on loopback.
type Etcd struct {
	e         *embed.Etcd
	endpoints []string
	stopping  *atomic.Bool // quiets the logs of the shutdown
	stopOnce  sync.Once
}

// StartEtcd runs a single-member etcd with its data in dir (created if
// missing), serving clients on http://clientAddr, a loopback "host:port"
// (port 0 picks a free one), and peers on another free loopback port. It
// returns once the member is ready (at most 60 s). Errors of etcd are logged
// to log, which may be nil; nothing else is.
func StartEtcd(dir, clientAddr string, log *slog.Logger) (*Etcd, error) {
	host, port, err := splitLoopback(clientAddr)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devstores: etcd data directory: %w", err)
	}
	log = orDiscard(log).With(slog.String("component", "etcd"))

	// Free ports are picked before etcd binds them; if another process takes
	// one in between, try again with new ones.
	for attempt := 0; ; attempt++ {
		e, err := startEtcd(dir, host, port, log)
		if err == nil {
			return e, nil
		}
		if attempt == 2 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
}

func startEtcd(dir, host string, clientPort int, log *slog.Logger) (*Etcd, error) {
	var err error
	if clientPort == 0 {
		if clientPort, err = freePort(host); err != nil {
			return nil, err
		}
	}
	peerPort, err := freePort(host)
	if err != nil {
		return nil, err
	}
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(clientPort))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(peerPort))}

	cfg := embed.NewConfig()
	cfg.Name = "edgeway-dev"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	stopping := new(atomic.Bool)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(log, zapcore.ErrorLevel, stopping))
	// Runtime state is rewritten often; keep one hour of history.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("devstores: start etcd: %w", err)
	}
	timer := time.NewTimer(etcdReadyTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		stopping.Store(true)
		e.Close()
		return nil, fmt.Errorf("devstores: etcd failed during start: %w", err)
	case <-timer.C:
		stopping.Store(true)
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("devstores: etcd not ready after %s", etcdReadyTimeout)
	}
	return &Etcd{e: e, endpoints: []string{clientURL.String()}, stopping: stopping}, nil
}

// Endpoints returns the client URLs, e.g. ["http://127.0.0.1:2379"].
func (e *Etcd) Endpoints() []string { return e.endpoints }

// Stop stops etcd and waits until its files are closed. It may be called
// more than once.
func (e *Etcd) Stop() {
	e.stopOnce.Do(func() {
		e.stopping.Store(true)
		e.e.Close()
	})
}
