package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"edgeway.dev/tests/harness"
)

// TestKeyRotationUnderLoad rotates the secrets service's keys with
// `edgeway keys rotate` while clients create and read clusters (whose
// kubeconfigs are sealed): no request fails, and afterwards every stored
// kubeconfig is sealed under the new primary key (checked in the raw
// MongoDB documents), so the old key can be retired.
func TestKeyRotationUnderLoad(t *testing.T) {
	skipShort(t)
	dataDir := t.TempDir()
	stores := harness.StartDevStores(t, dataDir)
	srv := harness.Start(t, harness.Options{DataDir: dataDir, MongoURI: stores.MongoURI, EtcdEndpoints: stores.EtcdEndpoints,
		ExtraArgs: []string{"--reencrypt-interval=500ms"}})
	api := srv.API()
	bin := harness.RequireBinary(t)
	keys := func(args ...string) string {
		out, err := exec.Command(bin, append([]string{"keys", "--data-dir", dataDir}, args...)...).CombinedOutput()
		require.NoError(t, err, "edgeway keys %v: %s", args, out)
		return string(out)
	}
	primary := func() uint32 {
		for _, line := range strings.Split(keys("status"), "\n") {
			if strings.HasSuffix(line, " primary") {
				id, err := strconv.ParseUint(strings.Fields(line)[0], 10, 32)
				require.NoError(t, err)
				return uint32(id)
			}
		}
		t.Fatal("no primary key")
		return 0
	}
	before := primary()
	api.PostJSON(t, "/cluster-providers", envelope("rot", "rotation", nil)).Require(t, http.StatusCreated)
	for i := range 10 {
		api.Multipart(t, http.MethodPost, "/cluster-providers/rot/clusters", envelope(fmt.Sprintf("pre-%d", i), "", nil),
			harness.Kubeconfig("pre", "", "tok")).Require(t, http.StatusCreated)
	}

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("load-%d-%d", w, i)
				ct, body, _ := harness.EncodeMultipart(envelope(name, "", nil), harness.Kubeconfig(name, "", "tok-"+name))
				r, err := api.TryDo(http.MethodPost, "/cluster-providers/rot/clusters", ct, body, nil)
				if err != nil || r.Status != http.StatusCreated {
					failed.Add(1)
					t.Logf("create %s: %v %v", name, err, r)
					continue
				}
				r, err = api.TryDo(http.MethodGet, "/cluster-providers/rot/clusters/"+name, "", nil, nil)
				if err != nil || r.Status != http.StatusOK {
					failed.Add(1)
					t.Logf("read %s: %v %v", name, err, r)
					continue
				}
				ok.Add(2)
			}
		})
	}
	time.Sleep(time.Second) // load before the rotation (a duration of load, not a wait for a condition)
	out := keys("rotate")
	require.Contains(t, out, "new primary key")
	after := primary()
	require.NotEqual(t, before, after)
	time.Sleep(2 * time.Second) // load after the rotation
	close(stop)
	wg.Wait()
	require.Zero(t, failed.Load(), "requests failed during the rotation")
	require.Greater(t, ok.Load(), int64(20))
	t.Logf("%d requests succeeded during the rotation, 0 failed", ok.Load())

	// Every kubeconfig ends up sealed under the new key (tink prefix: 0x01 + key id).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := mongo.Connect(options.Client().ApplyURI(stores.MongoURI))
	require.NoError(t, err)
	defer cli.Disconnect(ctx)
	coll := cli.Database("edgeway").Collection("clusterregistry")
	onOld := func() (old, total int) {
		cur, err := coll.Find(ctx, bson.D{{Key: "kind", Value: "cluster"}})
		require.NoError(t, err)
		var docs []bson.M
		require.NoError(t, cur.All(ctx, &docs))
		for _, d := range docs {
			b, ok := d["file"].(bson.Binary)
			require.True(t, ok, "cluster document without a sealed file: %v", d["_id"])
			require.GreaterOrEqual(t, len(b.Data), 5)
			total++
			if binary.BigEndian.Uint32(b.Data[1:5]) != after {
				old++
			}
		}
		return old, total
	}
	require.Eventually(t, func() bool { old, _ := onOld(); return old == 0 }, 30*time.Second, 250*time.Millisecond,
		"kubeconfigs still sealed under the old key")
	_, total := onOld()
	t.Logf("%d kubeconfigs, all on key %d", total, after)
	keys("retire", strconv.FormatUint(uint64(before), 10))
	api.Get(t, "/cluster-providers/rot/clusters/pre-0").Require(t, http.StatusOK)
}
