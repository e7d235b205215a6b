package render

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// loadChart checks the archive against the limits and loads it.
//
// Helm's loader has limits of its own (100 MiB expanded per archive, 5 MiB
// per file), but they are package variables shared with the rest of the
// process and they apply to each nested subchart archive separately. So the
// archive is walked once first, nested archives included, against one
// budget; only then is it handed to the loader.
func loadChart(data []byte) (*chart.Chart, error) {
	b := budget{bytes: MaxExpandedBytes, entries: MaxFiles}
	if err := b.scan(data); err != nil {
		return nil, err
	}
	chrt, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChart, err)
	}
	return chrt, nil
}

// budget is what is left of the limits while scanning.
type budget struct {
	bytes   int64
	entries int
}

var errBudget = errors.New("size limit exceeded")

// scan walks one gzipped tar archive, recursing into the files Helm's
// loader would load as subchart archives.
func (b *budget) scan(data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: not a gzipped chart archive: %w", ErrInvalidChart, err)
	}
	defer gz.Close()
	// Headers and padding are not file content but still cost work: bound
	// the whole decompressed stream too.
	tr := tar.NewReader(&capped{r: gz, left: 2 * MaxExpandedBytes})
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return b.fail(err)
		}
		b.entries--
		if b.entries < 0 {
			return fmt.Errorf("%w: %w: more than %d entries in the chart archive", ErrInvalidChart, ErrTooLarge, MaxFiles)
		}
		if hd.FileInfo().IsDir() || hd.Typeflag == tar.TypeXGlobalHeader || hd.Typeflag == tar.TypeXHeader {
			continue
		}
		nested := isSubchartArchive(chartPath(hd.Name))
		var buf bytes.Buffer
		var dst io.Writer = io.Discard
		if nested {
			dst = &buf
		}
		n, err := io.Copy(dst, io.LimitReader(tr, b.bytes+1))
		if err != nil {
			return b.fail(err)
		}
		b.bytes -= n
		if b.bytes < 0 {
			return b.fail(errBudget)
		}
		if nested {
			if err := b.scan(buf.Bytes()); err != nil {
				return err
			}
		}
	}
}

func (b *budget) fail(err error) error {
	if errors.Is(err, errBudget) {
		return fmt.Errorf("%w: %w: chart expands to more than %d bytes", ErrInvalidChart, ErrTooLarge, MaxExpandedBytes)
	}
	return fmt.Errorf("%w: reading chart archive: %w", ErrInvalidChart, err)
}

// chartPath is the path of an archive entry inside its chart, as Helm's
// loader computes it: the first element (the chart's directory) dropped.
func chartPath(name string) string {
	delim := "/"
	if strings.ContainsRune(name, '\\') {
		delim = "\\"
	}
	parts := strings.Split(name, delim)
	return path.Clean(strings.ReplaceAll(strings.Join(parts[1:], delim), delim, "/"))
}

// isSubchartArchive tells whether Helm's loader would untar the file at p:
// charts/x.tgz, also inside unpacked subcharts (charts/a/charts/x.tgz),
// unless a name on the way starts with "_" or ".".
func isSubchartArchive(p string) bool {
	parts := strings.Split(p, "/")
	for len(parts) >= 2 && parts[0] == "charts" {
		name := parts[1]
		if strings.IndexAny(name, "_.") == 0 {
			return false
		}
		if len(parts) == 2 {
			return path.Ext(name) == ".tgz"
		}
		parts = parts[2:]
	}
	return false
}

// capped fails reads past left bytes with errBudget.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
