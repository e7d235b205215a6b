package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// KeySource loads and stores the keyset of data encryption keys. Keys
// live outside the databases: a file (FileKeySource) in dev, encrypted at
// rest by a master AEAD (a KMS) in production.
type KeySource interface {
	// Load returns the current keyset. A keyset that does not exist yet is
	// an error wrapping ErrNoKeyset.
	Load(ctx context.Context) (*keyset.Handle, error)
	// Save replaces the keyset atomically: a concurrent Load sees the old
	// or the new keyset, never a mix.
	Save(ctx context.Context, h *keyset.Handle) error
}

// Versioned is implemented by key sources that can tell cheaply whether
// the keyset changed since a Load. The service polls it (at most once per
// second) to pick up a rotated keyset without a restart; a source without
// it is loaded once.
type Versioned interface {
	// Version changes whenever the stored keyset does.
	Version(ctx context.Context) (string, error)
}

// ErrNoKeyset reports that a key source holds no keyset yet.
var ErrNoKeyset = errors.New("no keyset")

// keysetAssociatedData binds an encrypted keyset file to its purpose, so a
// keyset encrypted by the same master key for something else is refused.
var keysetAssociatedData = []byte("edgeway/secrets/keyset")

// maxKeyFileSize bounds what is read from a key file.
const maxKeyFileSize = 1 << 20

// FileKeySource keeps the keyset in a JSON file of mode 0600, written by
// rename so that readers never see half a file.
type FileKeySource struct {
	// Path of the keyset file.
	Path string
	// Master, when set, encrypts the keyset in the file (tink's encrypted
	// keyset format, bound to "edgeway/secrets/keyset"): a KMS AEAD, or one
	// read by LoadMasterKeyFile. Nil stores the keyset in cleartext.
	Master tink.AEAD
}

// FileKeySource returns the key source c describes, with the master key
// loaded when c names one. It checks c first.
func (c Config) FileKeySource() (*FileKeySource, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	src := &FileKeySource{Path: c.KeysetFile}
	if c.MasterKeyFile != "" {
		m, err := LoadMasterKeyFile(c.MasterKeyFile)
		if err != nil {
			return nil, err
		}
		src.Master = m
	}
	return src, nil
}

// Load implements KeySource: it reads and checks the keyset (every key
// AES-256-GCM with tink's key id prefix, a primary key present).
func (f *FileKeySource) Load(context.Context) (*keyset.Handle, error) {
	data, err := readKeyFile(f.Path)
	if err != nil {
		return nil, err
	}
	var h *keyset.Handle
	if f.Master != nil {
		h, err = keyset.ReadWithAssociatedData(keyset.NewJSONReader(bytes.NewReader(data)), f.Master, keysetAssociatedData)
	} else {
		h, err = insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(data)))
	}
	if err != nil {
		return nil, fmt.Errorf("keyset %s cannot be read (wrong master key, or not a %s keyset): %w", f.Path, f.kind(), err)
	}
	if err := checkKeyset(h); err != nil {
		return nil, fmt.Errorf("keyset %s: %w", f.Path, err)
	}
	return h, nil
}

func (f *FileKeySource) kind() string {
	if f.Master != nil {
		return "master-key-encrypted"
	}
	return "cleartext"
}

// Save implements KeySource.
func (f *FileKeySource) Save(_ context.Context, h *keyset.Handle) error {
	data, err := f.encode(h)
	if err != nil {
		return err
	}
	return writeFileAtomic(f.Path, data, false)
}

// Create stores h only when no keyset file exists yet; it fails with an
// error wrapping fs.ErrExist otherwise, so two first starts cannot
// overwrite each other's keys.
func (f *FileKeySource) Create(_ context.Context, h *keyset.Handle) error {
	data, err := f.encode(h)
	if err != nil {
		return err
	}
	return writeFileAtomic(f.Path, data, true)
}

func (f *FileKeySource) encode(h *keyset.Handle) ([]byte, error) {
	if err := checkKeyset(h); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	var err error
	if f.Master != nil {
		err = h.WriteWithAssociatedData(keyset.NewJSONWriter(&b), f.Master, keysetAssociatedData)
	} else {
		err = insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&b))
	}
	if err != nil {
		return nil, fmt.Errorf("encode keyset: %w", err)
	}
	return b.Bytes(), nil
}

// Version implements Versioned with the file's size and modification time
// (a Save renames a new file into place, so both change).
func (f *FileKeySource) Version(context.Context) (string, error) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size()), nil
}

// LoadMasterKeyFile reads a cleartext tink AEAD keyset (JSON, not readable
// by others) and returns its primitive, to encrypt the keyset file with.
func LoadMasterKeyFile(path string) (tink.AEAD, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("master key %s cannot be read: %w", path, err)
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("master key %s is not an AEAD keyset: %w", path, err)
	}
	return a, nil
}

// NewMasterKeyFile writes a new AES-256-GCM master keyset to path (mode
// 0600); it refuses to overwrite an existing file. For dev and tests: in
// production the master key is a KMS key.
func NewMasterKeyFile(path string) error {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&b)); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes(), true)
}

// readKeyFile reads a key file, refusing one that others may read or write.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoKeyset, path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: a key file must not be accessible to others (chmod 600)", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeyFileSize)
	}
	return data, nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file in the same directory (created 0700 when missing), synced, then
// renamed into place, or linked when exclusive (failing if path exists).
func writeFileAtomic(path string, data []byte, exclusive bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if exclusive {
		err = os.Link(name, path)
	} else {
		err = os.Rename(name, path)
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// checkKeyset accepts only keysets whose keys are all AES-256-GCM with
// tink's output prefix (so every ciphertext names its key), with an enabled
// primary key.
func checkKeyset(h *keyset.Handle) error {
	if h == nil || h.Len() == 0 {
		return errors.New("empty keyset")
	}
	p, err := h.Primary()
	if err != nil {
		return fmt.Errorf("no primary key: %w", err)
	}
	if p.KeyStatus() != keyset.Enabled {
		return errors.New("the primary key is not enabled")
	}
	for i := range h.Len() {
		e, err := h.Entry(i)
		if err != nil {
			return err
		}
		k, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return fmt.Errorf("key %d is not an AES-GCM key", e.KeyID())
		}
		params, ok := k.Parameters().(*aesgcm.Parameters)
		if !ok || params.KeySizeInBytes() != 32 || params.Variant() != aesgcm.VariantTink ||
			params.IVSizeInBytes() != 12 || params.TagSizeInBytes() != 16 {
			return fmt.Errorf("key %d is not AES-256-GCM with a tink key id prefix", e.KeyID())
		}
	}
	return nil
}

// checkKeyPath refuses a key file inside the embedded stores' data
// directories under dataDir (symbolic links resolved).
func checkKeyPath(dataDir, path string) error {
	if dataDir == "" {
		return nil
	}
	p := resolve(path)
	for _, store := range []struct{ name, dir string }{{"FerretDB", "ferretdb"}, {"etcd", "etcd"}} {
		d := resolve(filepath.Join(dataDir, store.dir))
		if within(p, d) {
			return fmt.Errorf("%s lies inside the %s data directory %s: keys must be kept outside the databases", path, store.name, d)
		}
	}
	return nil
}

// resolve makes path absolute and resolves symbolic links in its longest
// existing prefix.
func resolve(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	cur, rest := abs, ""
	for {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func samePath(a, b string) bool { return resolve(a) == resolve(b) }
