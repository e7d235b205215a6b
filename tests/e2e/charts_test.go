package e2e

import (
	"mime"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestChartRoundTrip uploads app charts and profile archives and reads them
// back byte for byte, as a multipart part and as application/octet-stream.
func TestChartRoundTrip(t *testing.T) {
	srv := sharedServer(t)
	runChartRoundTrip(t, srv.API())
}

func runChartRoundTrip(t *testing.T, api *harness.API) {
	w := newWorld(api)
	kinds := []struct {
		name       string
		collection func(t *testing.T) string
		spec       func(t *testing.T) obj
	}{
		{"app", func(t *testing.T) string { return w.compositeAppPath(t) + "/apps" }, func(*testing.T) obj { return nil }},
		{"profile", func(t *testing.T) string { return w.compositeProfilePath(t) + "/profiles" },
			func(t *testing.T) obj { w.appPath(t, 0); return obj{"app": w.apps[0]} }},
	}
	charts := []struct {
		name  string
		chart harness.Chart
	}{
		{"tiny", harness.Chart{Name: "tiny"}},
		{"300KiB", harness.Chart{Name: "padded", Padding: 300 << 10}},
	}
	for _, k := range kinds {
		for _, c := range charts {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				collection, spec := k.collection(t), k.spec(t)
				name := k.name + "-" + c.name + "-" + w.id
				item := collection + "/" + name
				first := c.chart.Archive()
				meta := envelope(name, "round trip", spec)
				api.Multipart(t, http.MethodPost, collection, meta, first).Require(t, http.StatusCreated)
				t.Run("after create", func(t *testing.T) { requireArchive(t, api, item, meta, first) })

				c2 := c.chart
				c2.Version = "0.2.0"
				second := c2.Archive()
				require.NotEqual(t, first, second)
				api.Multipart(t, http.MethodPut, item, meta, second).Require(t, http.StatusOK)
				t.Run("after update", func(t *testing.T) { requireArchive(t, api, item, meta, second) })
			})
		}
	}
}

// requireArchive reads item in every representation and checks it carries
// meta and exactly the archive bytes.
func requireArchive(t *testing.T, api *harness.API, item string, meta obj, archive []byte) {
	t.Helper()
	t.Run("multipart", func(t *testing.T) {
		r := api.GetAccept(t, item, harness.ContentMultipart).Require(t, http.StatusOK)
		parts := r.Parts(t)
		require.Contains(t, parts, "metadata", "multipart answer has no metadata part")
		require.Contains(t, parts, "file", "multipart answer has no file part")
		requireSubset(t, meta, parts["metadata"], "metadata part")
		require.True(t, bytesEqual(archive, parts["file"]), "file part differs: sent %d bytes, got %d", len(archive), len(parts["file"]))
	})
	t.Run("octet-stream", func(t *testing.T) {
		r := api.GetAccept(t, item, harness.ContentOctet).Require(t, http.StatusOK)
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		require.Equal(t, harness.ContentOctet, mt)
		require.True(t, bytesEqual(archive, r.Body), "octet-stream differs: sent %d bytes, got %d", len(archive), len(r.Body))
	})
	t.Run("json", func(t *testing.T) {
		r := api.GetAccept(t, item, harness.ContentJSON).Require(t, http.StatusOK)
		requireSubset(t, meta, r.Body, "JSON representation")
		r = api.Get(t, item).Require(t, http.StatusOK)
		requireSubset(t, meta, r.Body, "default representation")
	})
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
