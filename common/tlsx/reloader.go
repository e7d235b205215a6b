package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// reloadInterval is the minimum time between two looks at the files.
const reloadInterval = time.Second

// material is one consistent set of loaded key pair and CA pool.
type material struct {
	cert *tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
}

// stamps identifies the file versions a material was loaded from.
type stamps [3]os.FileInfo // CA, Cert, Key; nil when missing

func (s stamps) equal(o stamps) bool {
	for i := range s {
		a, b := s[i], o[i]
		if a == nil || b == nil {
			if a != b {
				return false
			}
			continue
		}
		if !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size() {
			return false
		}
	}
	return true
}

// Reloader holds a service's key pair and CA pool and re-reads them when the
// files change, so rotated certificates are used by new connections without
// a restart. The files are looked at lazily, at most once per second, when a
// handshake asks for the material. A new set that fails to load (missing or
// unparsable file, key not matching the certificate) is not used: the old
// material stays in force and a warning is logged.
//
// A Reloader is safe for concurrent use.
type Reloader struct {
	files    Files
	log      *slog.Logger
	interval time.Duration

	cur atomic.Pointer[material]

	mu        sync.Mutex // guards the fields below; held only by the reloading goroutine
	lastCheck time.Time
	loaded    stamps // versions of the files in cur
	failed    stamps // versions that failed to load last time (already warned about)
	hasFailed bool
}

// NewReloader loads f. It fails when the files cannot be loaded; later
// failures only keep the previous material. log may be nil.
func NewReloader(f Files, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, st, err := load(f)
	if err != nil {
		return nil, err
	}
	r := &Reloader{files: f, log: log, interval: reloadInterval, lastCheck: time.Now(), loaded: st}
	r.cur.Store(m)
	return r, nil
}

// Leaf returns the certificate currently in use.
func (r *Reloader) Leaf() *x509.Certificate { return r.material().leaf }

// material returns the current material, first reloading it if the files
// changed and the last look is more than a second ago.
func (r *Reloader) material() *material {
	r.maybeReload()
	return r.cur.Load()
}

func (r *Reloader) maybeReload() {
	if !r.mu.TryLock() {
		return // someone else is looking; use what we have
	}
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastCheck) < r.interval {
		return
	}
	r.lastCheck = now
	st := statAll(r.files)
	if st.equal(r.loaded) {
		return
	}
	m, st, err := load(r.files)
	if err != nil {
		if !r.hasFailed || !st.equal(r.failed) {
			r.log.Warn("tls material changed on disk but cannot be loaded; keeping the previous one",
				"cert", r.files.Cert, "key", r.files.Key, "ca", r.files.CA, "err", err)
		}
		r.failed, r.hasFailed = st, true
		return
	}
	r.cur.Store(m)
	r.loaded, r.hasFailed = st, false
	r.log.Info("tls material reloaded", "cert", r.files.Cert,
		"serial", m.leaf.SerialNumber.Text(16), "not_after", m.leaf.NotAfter)
}

func statAll(f Files) stamps {
	var st stamps
	for i, p := range []string{f.CA, f.Cert, f.Key} {
		if fi, err := os.Stat(p); err == nil {
			st[i] = fi
		}
	}
	return st
}

// load reads f. The stamps are taken before reading, so a change during the
// read is seen again at the next look.
func load(f Files) (*material, stamps, error) {
	st := statAll(f)
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, st, fmt.Errorf("tlsx: load key pair: %w", err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, st, fmt.Errorf("tlsx: parse %s: %w", f.Cert, err)
		}
		pair.Leaf = leaf
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, st, fmt.Errorf("tlsx: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, st, errors.New("tlsx: no CA certificate in " + f.CA)
	}
	return &material{cert: &pair, leaf: leaf, pool: pool}, st, nil
}
