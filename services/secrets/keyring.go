package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// reloadInterval is the least time between two checks of the key source
// for a new keyset.
const reloadInterval = time.Second

// keys is one loaded keyset: never modified, swapped as a whole.
type keys struct {
	aead    tink.AEAD
	primary uint32
	infos   []KeyInfo
	ids     map[uint32]bool
	version string
}

func newKeys(h *keyset.Handle, version string) (*keys, error) {
	if err := checkKeyset(h); err != nil {
		return nil, err
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyset primitive: %w", err)
	}
	infos := keyInfos(h)
	k := &keys{aead: a, infos: infos, ids: map[uint32]bool{}, version: version}
	for _, i := range infos {
		k.ids[i.ID] = true
		if i.Primary {
			k.primary = i.ID
		}
	}
	return k, nil
}

// keyring holds the current keys and replaces them when the key source
// reports a new version, checked at most once per reloadInterval (or at
// once when a ciphertext names a key not held). A keyset that cannot be
// loaded keeps the previous keys and is logged.
type keyring struct {
	src      KeySource
	ver      Versioned // nil: loaded once
	log      *slog.Logger
	interval time.Duration

	cur       atomic.Pointer[keys]
	lastCheck atomic.Int64 // unix nanoseconds of the last version check

	mu        sync.Mutex // serializes checks and reloads
	lastError string     // last logged error (not repeated while it lasts)
}

func newKeyring(ctx context.Context, src KeySource, log *slog.Logger) (*keyring, error) {
	r := &keyring{src: src, log: log, interval: reloadInterval}
	r.ver, _ = src.(Versioned)
	ver, err := r.version(ctx)
	if err != nil {
		return nil, fmt.Errorf("keyset version: %w", err)
	}
	h, err := src.Load(ctx)
	if err != nil {
		return nil, err
	}
	k, err := newKeys(h, ver)
	if err != nil {
		return nil, err
	}
	r.cur.Store(k)
	r.lastCheck.Store(time.Now().UnixNano())
	return r, nil
}

func (r *keyring) version(ctx context.Context) (string, error) {
	if r.ver == nil {
		return "", nil
	}
	return r.ver.Version(ctx)
}

// get returns the current keys, first checking the source for a new
// keyset when the last check is older than the interval. Only one caller
// checks; the others go on with the keys they have.
func (r *keyring) get(ctx context.Context) *keys {
	if r.ver != nil {
		last := r.lastCheck.Load()
		if now := time.Now().UnixNano(); now-last >= int64(r.interval) && r.lastCheck.CompareAndSwap(last, now) {
			r.mu.Lock()
			r.refreshLocked(ctx)
			r.mu.Unlock()
		}
	}
	return r.cur.Load()
}

// refresh checks the source now (a ciphertext named a key not held: a
// sibling instance may have picked up a rotation first) and returns the
// keys then current.
func (r *keyring) refresh(ctx context.Context) *keys {
	if r.ver != nil {
		r.mu.Lock()
		r.lastCheck.Store(time.Now().UnixNano())
		r.refreshLocked(ctx)
		r.mu.Unlock()
	}
	return r.cur.Load()
}

func (r *keyring) refreshLocked(ctx context.Context) {
	ver, err := r.version(ctx)
	if err != nil {
		r.logOnce("keyset cannot be checked; keeping the current keys", err)
		return
	}
	if ver == r.cur.Load().version {
		r.lastError = ""
		return
	}
	h, err := r.src.Load(ctx)
	var k *keys
	if err == nil {
		k, err = newKeys(h, ver)
	}
	if err != nil {
		// Retried at the next check; logged again only when it changes.
		r.logOnce("new keyset cannot be loaded; keeping the current keys", fmt.Errorf("version %s: %w", ver, err))
		return
	}
	old := r.cur.Swap(k)
	r.lastError = ""
	r.log.Info("keyset reloaded", "primary_key_id", k.primary, "keys", len(k.infos), "previous_primary_key_id", old.primary)
}

func (r *keyring) logOnce(msg string, err error) {
	if e := err.Error(); e != r.lastError {
		r.lastError = e
		r.log.Error(msg, "error", err)
	}
}

// errUnknownKey reports a ciphertext naming a key the keyset does not hold.
var errUnknownKey = errors.New("sealed with a key not in the keyset")
