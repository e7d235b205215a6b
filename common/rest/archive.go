package rest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Archive limits for uploaded .tgz files (charts and profiles).
const (
	maxArchiveEntries   = 4096
	maxArchiveExpansion = 64 << 20 // bytes after decompression
)

// CheckTarGz verifies that data is a gzip-compressed tar archive with
// bounded size and entry count, whose entries are relative paths that stay
// inside the archive. When need is non-empty, an entry with that base name
// must exist one directory deep (a Helm chart's "<chart>/Chart.yaml").
func CheckTarGz(data []byte, need string) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return errors.New("not a gzip-compressed archive")
	}
	tr := tar.NewReader(io.LimitReader(zr, maxArchiveExpansion+1))
	var total int64
	found := need == ""
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.New("not a valid tar archive")
		}
		if n >= maxArchiveEntries {
			return fmt.Errorf("archive has more than %d entries", maxArchiveEntries)
		}
		name := h.Name
		clean := path.Clean(name)
		if strings.HasPrefix(name, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(name, "\\") {
			return fmt.Errorf("archive entry %q escapes the archive", name)
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeXHeader:
		default:
			return fmt.Errorf("archive entry %q is not a regular file or directory", name)
		}
		total += h.Size
		if total > maxArchiveExpansion {
			return fmt.Errorf("archive expands beyond %d bytes", maxArchiveExpansion)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return errors.New("not a valid tar archive")
		}
		if !found && path.Base(clean) == need && strings.Count(clean, "/") == 1 {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("archive has no %s", need)
	}
	return nil
}
