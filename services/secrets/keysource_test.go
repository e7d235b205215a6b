package secrets

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestDevKeysetGeneratedWithMode0600(t *testing.T) {
	cfg := devConfig(t)
	e := newEnv(t, cfg)
	path := DefaultKeysetFile(cfg.DataDir)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), di.Mode().Perm())

	// A restart reuses the keyset: old values still unseal.
	ct := e.seal(t, []byte(canary), kubeconfigAAD)
	again := newEnv(t, cfg)
	got, err := again.unseal(ct, kubeconfigAAD)
	require.NoError(t, err)
	require.Equal(t, canary, string(got))

	// Rotation rewrites the file with the same mode.
	_, err = Rotate(context.Background(), cfg)
	require.NoError(t, err)
	fi, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestKeyFileReadableByOthersRefused(t *testing.T) {
	cfg := devConfig(t)
	_, err := Init(context.Background(), cfg)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(DefaultKeysetFile(cfg.DataDir), 0o644))
	_, err = New(cfg, Deps{Log: discard()})
	require.ErrorContains(t, err, "must not be accessible to others")
}

func TestKeysetPathChecks(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etcd"), 0o700))
	require.NoError(t, os.Symlink(filepath.Join(dir, "etcd"), filepath.Join(dir, "link-to-etcd")))
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"dev default", Config{DataDir: dir, Dev: true}, ""},
		{"explicit outside the stores", Config{DataDir: dir, KeysetFile: filepath.Join(dir, "keys", "k.json")}, ""},
		{"empty outside dev", Config{DataDir: dir}, "keyset file is required"},
		{"inside ferretdb", Config{DataDir: dir, Dev: true, KeysetFile: filepath.Join(dir, "ferretdb", "keyset.json")}, "inside the FerretDB data directory"},
		{"ferretdb dir itself", Config{DataDir: dir, Dev: true, KeysetFile: filepath.Join(dir, "ferretdb")}, "inside the FerretDB data directory"},
		{"inside etcd, relative", Config{DataDir: dir, Dev: true, KeysetFile: filepath.Join(dir, "keys", "..", "etcd", "member", "k.json")}, "inside the etcd data directory"},
		{"inside etcd through a symlink", Config{DataDir: dir, Dev: true, KeysetFile: filepath.Join(dir, "link-to-etcd", "k.json")}, "inside the etcd data directory"},
		{"master key inside ferretdb", Config{DataDir: dir, KeysetFile: filepath.Join(dir, "k.json"), MasterKeyFile: filepath.Join(dir, "ferretdb", "m.json")}, "master key file"},
		{"master key is the keyset", Config{DataDir: dir, KeysetFile: filepath.Join(dir, "k.json"), MasterKeyFile: filepath.Join(dir, "k.json")}, "must not be the keyset file"},
		{"a sibling named ferretdb2 is fine", Config{DataDir: dir, KeysetFile: filepath.Join(dir, "ferretdb2", "k.json")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			_, err = New(tc.cfg, Deps{Log: discard()})
			require.ErrorContains(t, err, tc.wantErr, "New refuses it too")
		})
	}
	_, err := os.Stat(filepath.Join(dir, "ferretdb"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing was written into the store directory")
}

func TestOutsideDevKeysetMustExist(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, KeysetFile: filepath.Join(dir, "keys", "keyset.json")}
	_, err := New(cfg, Deps{Log: discard()})
	require.ErrorContains(t, err, "edgeway keys init")
	_, err = os.Stat(cfg.KeysetFile)
	require.ErrorIs(t, err, os.ErrNotExist, "no keyset generated outside dev")

	id, err := Init(context.Background(), cfg)
	require.NoError(t, err)
	_, err = Init(context.Background(), cfg)
	require.ErrorIs(t, err, errKeysetExists, "init never overwrites keys")
	e := newEnv(t, cfg)
	require.Equal(t, id, e.svc.Primary())
}

func TestMasterKeyEncryptsKeysetAtRest(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "kms", "master.json")
	require.NoError(t, NewMasterKeyFile(master))
	cfg := Config{DataDir: dir, KeysetFile: filepath.Join(dir, "keys", "keyset.json"), MasterKeyFile: master}
	_, err := Init(context.Background(), cfg)
	require.NoError(t, err)

	raw, err := os.ReadFile(cfg.KeysetFile)
	require.NoError(t, err)
	require.Contains(t, string(raw), "encryptedKeyset")
	require.NotContains(t, string(raw), "keyData", "no cleartext key material in the file")

	e := newEnv(t, cfg)
	ct := e.seal(t, []byte(canary), kubeconfigAAD)
	id, err := Rotate(context.Background(), cfg)
	require.NoError(t, err)
	infos, err := Status(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.Contains(t, infos, KeyInfo{ID: id, Primary: true, Status: "ENABLED"})

	// Without the master key, or with another one: refused, not guessed.
	_, err = New(Config{DataDir: dir, KeysetFile: cfg.KeysetFile}, Deps{Log: discard()})
	require.ErrorContains(t, err, "cannot be read")
	other := filepath.Join(dir, "kms", "other.json")
	require.NoError(t, NewMasterKeyFile(other))
	_, err = New(Config{DataDir: dir, KeysetFile: cfg.KeysetFile, MasterKeyFile: other}, Deps{Log: discard()})
	require.ErrorContains(t, err, "cannot be read")

	again := newEnv(t, cfg)
	got, err := again.unseal(ct, kubeconfigAAD)
	require.NoError(t, err)
	require.Equal(t, canary, string(got))
}

func TestBrokenKeysetFileRefusedAtStart(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":      "not json",
		"empty":        "",
		"empty keyset": `{"primaryKeyId":1,"key":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := devConfig(t)
			path := DefaultKeysetFile(cfg.DataDir)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			_, err := New(cfg, Deps{Log: discard()})
			require.Error(t, err, "a broken keyset is never replaced by a new one")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, content, string(got))
		})
	}
}
