package orchestrator

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/httpx"
	"edgeway.dev/services/orchestrator/render"
)

// TestProjectSecretRefs: "$projectSecret:NAME" values become NAME for the
// chart, and the names each app refers to are checked with the secrets
// service; an unknown or unusable name is a 422 naming it.
func TestProjectSecretRefs(t *testing.T) {
	s := newAccessService(t)
	fs := &fakeSecrets{names: []string{"db-credentials", "tls"}}
	s.deps.Secrets = fs
	ctx := context.Background()

	overrides := map[string]map[string]string{
		"web": {"db.secret": "$projectSecret:db-credentials", "tls.secret": "$projectSecret:tls", "again": "$projectSecret:tls", "plain": "value"},
		"db":  {"auth.existingSecret": "$projectSecret:db-credentials"},
		"ui":  {"replicas": "2"},
	}
	refs, err := s.projectSecretRefs(ctx, "p1", overrides)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"web": {"db-credentials", "tls"}, "db": {"db-credentials"}}, refs)
	require.Equal(t, map[string]map[string]string{
		"web": {"db.secret": "db-credentials", "tls.secret": "tls", "again": "tls", "plain": "value"},
		"db":  {"auth.existingSecret": "db-credentials"},
		"ui":  {"replicas": "2"},
	}, overrides)
	require.Equal(t, 1, fs.calls)

	_, err = s.projectSecretRefs(ctx, "p1", map[string]map[string]string{"ui": {"replicas": "2"}})
	require.NoError(t, err)
	require.Equal(t, 1, fs.calls, "no call without references")

	for name, ov := range map[string]string{
		"no-such-secret": "$projectSecret:no-such-secret",
		"Upper_Case":     "$projectSecret:Upper_Case",
	} {
		_, err := s.projectSecretRefs(ctx, "p1", map[string]map[string]string{"web": {"k": ov}})
		status, msg := httpx.StatusOf(err)
		require.Equal(t, http.StatusUnprocessableEntity, status, name)
		require.Contains(t, msg, name)
		require.Contains(t, msg, "app web")
	}
}

// TestCheckRendered: a chart may not set the project-secret annotation
// itself, nor render a Secret named like a project secret it refers to.
func TestCheckRendered(t *testing.T) {
	obj := func(kind, name, ns, manifest string) render.Object {
		return render.Object{APIVersion: "v1", Kind: kind, Name: name, Namespace: ns, Manifest: []byte(manifest)}
	}
	ok := &render.Result{Objects: []render.Object{
		obj("ConfigMap", "cfg", "ns", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  note: mentions edgeway.dev/project-secret in a value\n"),
		obj("Secret", "db", "other", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n"),
	}}
	require.NoError(t, checkRendered("web", "ns", ok, []string{"db"}))

	forged := &render.Result{Hooks: []render.Object{obj("Secret", "x", "ns",
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  annotations:\n    edgeway.dev/project-secret: projects/other/secrets/db\n")}}
	status, msg := httpx.StatusOf(checkRendered("web", "ns", forged, nil))
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, msg, AnnotationProjectSecret)
	escaped := &render.Result{Objects: []render.Object{obj("Secret", "x", "ns",
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  annotations:\n    \"edgeway.dev/project\\x2dsecret\": projects/other/secrets/db\n")}}
	status, _ = httpx.StatusOf(checkRendered("web", "ns", escaped, nil))
	require.Equal(t, http.StatusUnprocessableEntity, status, "the key spelled with a YAML escape")

	clash := &render.Result{Objects: []render.Object{obj("Secret", "db", "ns", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n")}}
	status, msg = httpx.StatusOf(checkRendered("web", "ns", clash, []string{"db"}))
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, msg, "Secret db")
}

// TestProjectSecretResource: the Secret the deployer fills in carries the
// reference and no values.
func TestProjectSecretResource(t *testing.T) {
	r, err := projectSecretResource("p1", "db-credentials", "shop")
	require.NoError(t, err)
	require.Equal(t, "v1", r.GetApiVersion())
	require.Equal(t, "Secret", r.GetKind())
	require.Equal(t, "db-credentials", r.GetName())
	require.Equal(t, "shop", r.GetNamespace())
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.GetManifest(), &m))
	require.NotContains(t, m, "data")
	require.NotContains(t, m, "stringData")
	md := m["metadata"].(map[string]any)
	require.Equal(t, map[string]any{AnnotationProjectSecret: "projects/p1/secrets/db-credentials"}, md["annotations"])
	require.Equal(t, "shop", md["namespace"])
}
