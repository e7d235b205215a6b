package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// KeyInfo describes one key of the keyset (never its material).
type KeyInfo struct {
	ID      uint32
	Primary bool
	// Status is "ENABLED" or "DISABLED".
	Status string
}

func keyInfos(h *keyset.Handle) []KeyInfo {
	info := h.KeysetInfo()
	var out []KeyInfo
	for _, k := range info.GetKeyInfo() {
		out = append(out, KeyInfo{ID: k.GetKeyId(), Primary: k.GetKeyId() == info.GetPrimaryKeyId(), Status: k.GetStatus().String()})
	}
	return out
}

// ErrPrimaryKey reports an attempt to retire the primary key.
var ErrPrimaryKey = errors.New("the primary key cannot be retired")

// ErrUnknownKeyID reports a key id the keyset does not hold.
var ErrUnknownKeyID = errors.New("no such key in the keyset")

// errKeysetExists reports an Init over an existing keyset.
var errKeysetExists = errors.New("keyset already exists")

// Init creates the keyset file of cfg with one AES-256-GCM key and returns
// its id (`edgeway keys init`). It refuses to overwrite an existing keyset.
func Init(ctx context.Context, cfg Config) (uint32, error) {
	src, err := cfg.FileKeySource()
	if err != nil {
		return 0, err
	}
	return initKeyset(ctx, src)
}

func initKeyset(ctx context.Context, src *FileKeySource) (uint32, error) {
	h, err := newHandle()
	if err != nil {
		return 0, err
	}
	if err := src.Create(ctx, h); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, fmt.Errorf("%w: %s", errKeysetExists, src.Path)
		}
		return 0, err
	}
	return h.KeysetInfo().GetPrimaryKeyId(), nil
}

// Rotate adds a new AES-256-GCM key to the keyset of cfg and makes it the
// primary one (`edgeway keys rotate`): new values are sealed with it, the
// old keys stay to unseal older values until retired. A running service
// picks the new keyset up within a second or two. Run the owners'
// re-encryption jobs (package reencrypt) before retiring the old key.
func Rotate(ctx context.Context, cfg Config) (newKeyID uint32, err error) {
	src, err := cfg.FileKeySource()
	if err != nil {
		return 0, err
	}
	return RotateSource(ctx, src)
}

// RotateSource is Rotate on any key source.
func RotateSource(ctx context.Context, src KeySource) (uint32, error) {
	h, err := src.Load(ctx)
	if err != nil {
		return 0, err
	}
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return 0, fmt.Errorf("add key: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return 0, fmt.Errorf("set primary: %w", err)
	}
	nh, err := m.Handle()
	if err != nil {
		return 0, err
	}
	if err := src.Save(ctx, nh); err != nil {
		return 0, fmt.Errorf("save keyset: %w", err)
	}
	return id, nil
}

// Status lists the keys of the keyset of cfg (`edgeway keys status`).
func Status(ctx context.Context, cfg Config) ([]KeyInfo, error) {
	src, err := cfg.FileKeySource()
	if err != nil {
		return nil, err
	}
	return StatusSource(ctx, src)
}

// StatusSource is Status on any key source.
func StatusSource(ctx context.Context, src KeySource) ([]KeyInfo, error) {
	h, err := src.Load(ctx)
	if err != nil {
		return nil, err
	}
	return keyInfos(h), nil
}

// Retire removes a key that is not the primary one from the keyset of cfg
// (`edgeway keys retire <id>`). Values still sealed with it can no longer
// be unsealed: run the owners' re-encryption jobs first.
func Retire(ctx context.Context, cfg Config, keyID uint32) error {
	src, err := cfg.FileKeySource()
	if err != nil {
		return err
	}
	return RetireSource(ctx, src, keyID)
}

// RetireSource is Retire on any key source.
func RetireSource(ctx context.Context, src KeySource, keyID uint32) error {
	h, err := src.Load(ctx)
	if err != nil {
		return err
	}
	info := h.KeysetInfo()
	if info.GetPrimaryKeyId() == keyID {
		return fmt.Errorf("key %d: %w", keyID, ErrPrimaryKey)
	}
	found := false
	for _, k := range info.GetKeyInfo() {
		found = found || k.GetKeyId() == keyID
	}
	if !found {
		return fmt.Errorf("key %d: %w", keyID, ErrUnknownKeyID)
	}
	m := keyset.NewManagerFromHandle(h)
	if err := m.Delete(keyID); err != nil {
		return fmt.Errorf("delete key %d: %w", keyID, err)
	}
	nh, err := m.Handle()
	if err != nil {
		return err
	}
	if err := src.Save(ctx, nh); err != nil {
		return fmt.Errorf("save keyset: %w", err)
	}
	return nil
}
