package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"edgeway.dev/common/devstores"
	"edgeway.dev/tests/edgecluster"
	"edgeway.dev/tests/harness"
)

// canarySecretTmpl is a chart's own Secret, its value in the chart itself.
const canarySecretTmpl = `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-own
type: Opaque
stringData:
  token: {{ .Values.token | quote }}
`

// canaryConfigTmpl shows what the chart sees for a project secret (its
// name) next to a plain value.
const canaryConfigTmpl = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  secretName: {{ .Values.secretName | quote }}
  control: {{ .Values.control | quote }}
`

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// kubeconfigWithCanary adds to a working kubeconfig a second user, used by
// no context, whose token is the marker: the kubeconfig still works, and
// the marker is part of what the cluster registry must seal.
func kubeconfigWithCanary(t *testing.T, kubeconfig []byte, marker string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	require.NoError(t, err)
	cfg.AuthInfos["canary"] = &clientcmdapi.AuthInfo{Token: marker}
	out, err := clientcmd.Write(*cfg)
	require.NoError(t, err)
	require.Contains(t, string(out), marker)
	return out
}

// hit is one place a scan found the marker.
type hit struct{ where string }

// scanMongo reads every raw document of every collection of every database
// of the MongoDB (FerretDB) at uri and returns where marker occurs, the
// documents read per collection ("db.collection"), and the number of those
// containing control.
func scanMongo(t *testing.T, uri, marker, control string) (hits []hit, docs map[string]int, controls int) {
	t.Helper()
	ctx := ctxT(t)
	cli, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	require.NoError(t, err)
	defer func() { _ = cli.Disconnect(context.WithoutCancel(ctx)) }()
	dbs, err := cli.ListDatabaseNames(ctx, bson.D{})
	require.NoError(t, err)
	docs = map[string]int{}
	for _, dbName := range dbs {
		db := cli.Database(dbName)
		colls, err := db.ListCollectionNames(ctx, bson.D{})
		require.NoError(t, err)
		for _, c := range colls {
			cur, err := db.Collection(c).Find(ctx, bson.D{})
			require.NoError(t, err)
			for cur.Next(ctx) {
				docs[dbName+"."+c]++
				raw := []byte(cur.Current)
				if bytes.Contains(raw, []byte(marker)) {
					hits = append(hits, hit{fmt.Sprintf("mongo %s.%s %v", dbName, c, cur.Current.Lookup("_id"))})
				}
				if bytes.Contains(raw, []byte(control)) {
					controls++
				}
			}
			require.NoError(t, cur.Err())
			require.NoError(t, cur.Close(ctx))
		}
	}
	return hits, docs, controls
}

// scanEtcd reads every key and value of the etcd at endpoints and returns
// where marker occurs, and the number of entries read and those containing
// control.
func scanEtcd(t *testing.T, endpoints []string, marker, control string) (hits []hit, kvs, controls int) {
	t.Helper()
	cli, err := devstores.ConnectEtcd(endpoints)
	require.NoError(t, err)
	defer func() { _ = cli.Close() }()
	resp, err := cli.Get(ctxT(t), "", clientv3.WithPrefix())
	require.NoError(t, err)
	for _, kv := range resp.Kvs {
		kvs++
		if bytes.Contains(kv.Key, []byte(marker)) || bytes.Contains(kv.Value, []byte(marker)) {
			hits = append(hits, hit{"etcd " + string(kv.Key)})
		}
		if bytes.Contains(kv.Value, []byte(control)) {
			controls++
		}
	}
	return hits, kvs, controls
}

// TestAtRestCanary is the at-rest canary of SECURITY.md: a marker string
// goes into a registered cluster's kubeconfig, a project secret that a
// deployment intent group's override refers to, and a chart's own Secret
// manifest; the deployment reaches a real cluster, which gets the marker
// in both Secrets; then every raw MongoDB document of every collection and
// every raw etcd value of the stores Edgeway used hold 0 occurrences of it
// (and a plain control value is found, so the scans read what they should).
// The server's log must not hold it either.
func TestAtRestCanary(t *testing.T) {
	marker := "edgeway-canary-" + randomHex(t)
	updated := marker + "-v2" // contains the marker: found by the same scans
	control := "edgeway-control-" + randomHex(t)

	stores := harness.StartDevStores(t, "")
	fleet := edgecluster.StartT(t, edgecluster.Options{N: 1})
	srv := harness.Start(t, harness.Options{MongoURI: stores.MongoURI, EtcdEndpoints: stores.EtcdEndpoints})
	a := srv.API()

	// (a) The kubeconfig, with the marker in an unused user.
	c := fleet.Clusters()[0]
	a.PostJSON(t, "/cluster-providers", obj("local", nil)).Require(t, http.StatusCreated)
	a.Multipart(t, http.MethodPost, "/cluster-providers/local/clusters", obj(c.Name, nil),
		kubeconfigWithCanary(t, c.Kubeconfig, marker)).Require(t, http.StatusCreated)
	a.PostJSON(t, "/cluster-providers/local/clusters/"+c.Name+"/labels", map[string]string{"clusterLabel": "edge"}).Require(t, http.StatusCreated)
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig)
	require.NoError(t, err)
	kube, err := kubernetes.NewForConfig(restCfg)
	require.NoError(t, err)
	w := &world{srv: srv, api: a, fleet: fleet, clients: map[string]kubernetes.Interface{c.Name: kube}}

	// (b) A project secret: written, never read back.
	a.PostJSON(t, "/projects", map[string]any{"metadata": map[string]any{"name": "p1", "description": control}}).Require(t, http.StatusCreated)
	secretBody := func(password string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": "db-credentials"},
			"spec": map[string]any{"data": map[string]string{"password": password, "username": "shop"}}}
	}
	r := a.PostJSON(t, proj+"/secrets", secretBody(marker)).Require(t, http.StatusCreated)
	require.NotContains(t, string(r.Body), marker)
	for _, p := range []string{proj + "/secrets", proj + "/secrets/db-credentials"} {
		r := a.Get(t, p).Require(t, http.StatusOK)
		require.NotContains(t, string(r.Body), marker, "GET %s", p)
		require.Contains(t, string(r.Body), `"keys":["password","username"]`, "GET %s", p)
	}

	// (c) A chart with its own Secret, and a value naming the project secret.
	values := "token: " + marker + "\nsecretName: none\ncontrol: " + control + "\n"
	a.PostJSON(t, proj+"/composite-apps", obj("shop", map[string]any{"compositeAppVersion": "v1"})).Require(t, http.StatusCreated)
	a.Multipart(t, http.MethodPost, ca+"/apps", obj("db", nil),
		chart(t, "db", values, map[string]string{"secret.yaml": canarySecretTmpl, "configmap.yaml": canaryConfigTmpl})).Require(t, http.StatusCreated)
	a.PostJSON(t, proj+"/logical-clouds", obj("lc", map[string]any{"namespace": "default", "level": "0"})).Require(t, http.StatusCreated)
	digBody := func(secret string) map[string]any {
		return obj("d1", map[string]any{"version": "r1", "logicalCloud": "lc", "overrideValues": []any{
			map[string]any{"app": "db", "values": map[string]string{"secretName": "$projectSecret:" + secret}}}})
	}
	a.PostJSON(t, ca+"/deployment-intent-groups", digBody("no-such-secret")).Require(t, http.StatusCreated)
	a.PostJSON(t, dig+"/generic-placement-intents", obj("placement", nil)).Require(t, http.StatusCreated)
	a.PostJSON(t, gpi+"/app-intents", obj("db", map[string]any{"app": "db", "intent": onEveryEdge})).Require(t, http.StatusCreated)
	a.PostJSON(t, dig+"/intents", obj("intents", map[string]any{"intent": map[string]any{"genericPlacementIntent": "placement"}})).Require(t, http.StatusCreated)
	a.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).Require(t, http.StatusAccepted)

	// An override naming a secret the project does not have is refused.
	p := a.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).RequireProblem(t, http.StatusUnprocessableEntity)
	require.Contains(t, p.Detail, "no-such-secret")
	a.PutJSON(t, dig, digBody("db-credentials")).Require(t, http.StatusOK)
	// A project that has secrets cannot be deleted.
	a.Delete(t, proj).RequireProblem(t, http.StatusConflict)

	a.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).Require(t, http.StatusAccepted)
	st := w.waitDeployed(t, dig, "Instantiated", 2*time.Minute)
	require.Equal(t, map[string]int{"Applied": 3}, st.DeployedCounts, "the project secret's Secret, the chart's Secret and ConfigMap")

	// The marker reaches the edge cluster, checked with client-go.
	ctx := ctxT(t)
	requireSecret := func(name, key, want string) *metav1.ObjectMeta {
		t.Helper()
		s, err := kube.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, want, string(s.Data[key]), "Secret %s key %s on the cluster", name, key)
		return &s.ObjectMeta
	}
	md := requireSecret("db-credentials", "password", marker)
	requireSecret("db-credentials", "username", "shop")
	require.Equal(t, "projects/p1/secrets/db-credentials", md.Annotations["edgeway.dev/project-secret"])
	require.NotEmpty(t, md.Labels[labelDeployment])
	requireSecret("db-own", "token", marker)
	cm, err := kube.CoreV1().ConfigMaps("default").Get(ctx, "db-config", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "db-credentials", cm.Data["secretName"], "the chart sees the Kubernetes Secret's name")

	// A new value reaches the cluster with the next update.
	a.PutJSON(t, proj+"/secrets/db-credentials", secretBody(updated)).Require(t, http.StatusOK)
	a.Do(t, http.MethodPost, dig+"/update", "", nil, nil).Require(t, http.StatusAccepted)
	w.waitDeployed(t, dig, "Updated", 2*time.Minute)
	requireSecret("db-credentials", "password", updated)

	// The scans: the marker (and so the updated value) is nowhere at rest.
	mongoHits, docs, mongoControls := scanMongo(t, stores.MongoURI, marker, control)
	etcdHits, kvs, etcdControls := scanEtcd(t, stores.EtcdEndpoints, marker, control)
	t.Logf("scanned MongoDB documents %v and %d etcd entries", docs, kvs)
	for _, c := range []string{"edgeway.clusterregistry", "edgeway.secrets", "edgeway.orchestrator"} {
		require.Positive(t, docs[c], "the scan reads collection %s, where the marker went sealed", c)
	}
	require.Positive(t, mongoControls, "the control value (a project description) is found in MongoDB: the scan reads the documents")
	require.Positive(t, etcdControls, "the control value (a ConfigMap value) is found in etcd: the scan reads the values")
	require.Empty(t, mongoHits, "marker found in MongoDB")
	require.Empty(t, etcdHits, "marker found in etcd")

	// Never logged either.
	for _, f := range []string{srv.LogPath, stores.LogPath} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(b), marker, "log %s", f)
	}
}
