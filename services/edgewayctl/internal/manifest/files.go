package manifest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// CheckFiles reports every file of docs that cannot be read.
func CheckFiles(docs []*Document) error {
	var errs []error
	for _, d := range docs {
		for _, f := range d.Files {
			if _, err := os.Stat(f); err != nil {
				errs = append(errs, fmt.Errorf("document %d: %w", d.Index, err))
			}
		}
	}
	return errors.Join(errs...)
}

// File returns the document's file (nil when it has none) and its name. A
// directory is packed as a gzip-compressed tar archive: a Helm chart
// (a directory holding Chart.yaml) under its own name, as `helm package`
// does, anything else (an app profile) with its files at the top. The
// archive is reproducible: the same files give the same bytes.
func (d *Document) File() (data []byte, name string, err error) {
	if len(d.Files) == 0 {
		return nil, "", nil
	}
	p := d.Files[0]
	st, err := os.Stat(p)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(p)
		return b, filepath.Base(p), err
	}
	prefix := ""
	if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); err == nil {
		prefix = filepath.Base(filepath.Clean(p)) + "/"
	}
	b, err := packDir(p, prefix)
	if err != nil {
		return nil, "", fmt.Errorf("pack %s: %w", p, err)
	}
	return b, filepath.Base(filepath.Clean(p)) + ".tgz", nil
}

func packDir(dir, prefix string) ([]byte, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mtime := time.Unix(0, 0).UTC()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + f, Mode: 0o644, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
