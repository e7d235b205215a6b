package rest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/httpx"
)

func statusOf(err error) int {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

func TestDecodeObject(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"ok", `{"metadata":{"name":"a"},"spec":{"x":1}}`, 0},
		{"not json", `{"metadata":`, http.StatusUnprocessableEntity},
		{"trailing data", `{"metadata":{"name":"a"}} {}`, http.StatusUnprocessableEntity},
		{"duplicate key", `{"metadata":{"name":"a","name":"b"}}`, http.StatusUnprocessableEntity},
		{"duplicate top key", `{"metadata":{"name":"a"},"metadata":{"name":"b"}}`, http.StatusUnprocessableEntity},
		{"array", `[1,2]`, http.StatusUnprocessableEntity},
		{"metadata string", `{"metadata":"x"}`, http.StatusUnprocessableEntity},
		{"name number", `{"metadata":{"name":7}}`, http.StatusUnprocessableEntity},
		{"spec array", `{"metadata":{"name":"a"},"spec":[]}`, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeObject([]byte(c.body))
			if c.status == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, c.status, statusOf(err))
		})
	}
}

func tgz(t testing.TB, entries map[string]string, typ byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range entries {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: typ}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestCheckTarGz(t *testing.T) {
	require.NoError(t, CheckTarGz(tgz(t, map[string]string{"web/Chart.yaml": "name: web", "web/values.yaml": ""}, tar.TypeReg), "Chart.yaml"))
	require.ErrorContains(t, CheckTarGz(tgz(t, map[string]string{"web/values.yaml": ""}, tar.TypeReg), "Chart.yaml"), "no Chart.yaml")
	require.ErrorContains(t, CheckTarGz(tgz(t, map[string]string{"../evil": "x"}, tar.TypeReg), ""), "escapes")
	require.ErrorContains(t, CheckTarGz(tgz(t, map[string]string{"/etc/passwd": "x"}, tar.TypeReg), ""), "escapes")
	require.ErrorContains(t, CheckTarGz(tgz(t, map[string]string{"a/b": ""}, tar.TypeSymlink), ""), "not a regular file")
	require.ErrorContains(t, CheckTarGz([]byte("plain text"), ""), "gzip")
}

func FuzzDecodeObject(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"a"},"spec":{"x":[1,{"y":null}]}}`))
	f.Add([]byte(`{"a":{"a":{"a":1}},"a":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DecodeObject(data)
		if err == nil && doc == nil {
			t.Fatal("nil document without error")
		}
		if err != nil && statusOf(err) != http.StatusUnprocessableEntity {
			t.Fatalf("unexpected status %d for %q", statusOf(err), data)
		}
	})
}

func FuzzCheckTarGz(f *testing.F) {
	f.Add(tgz(f, map[string]string{"c/Chart.yaml": "name: c"}, tar.TypeReg))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = CheckTarGz(data, "Chart.yaml")
	})
}
