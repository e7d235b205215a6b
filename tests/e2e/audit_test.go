package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"edgeway.dev/tests/harness"
)

// TestAuditTamperDetected writes audit records through the real server,
// stops it (which signs a final checkpoint), then tampers with the raw
// MongoDB documents five ways; `edgeway audit verify` must report each.
func TestAuditTamperDetected(t *testing.T) {
	skipShort(t)
	dataDir := t.TempDir()
	stores := harness.StartDevStores(t, dataDir)
	srv := harness.Start(t, harness.Options{DataDir: dataDir, MongoURI: stores.MongoURI, EtcdEndpoints: stores.EtcdEndpoints})
	api := srv.API()
	for i := range 6 {
		api.PostJSON(t, "/projects", envelope(fmt.Sprintf("audited-%d", i), "audit", nil)).Require(t, http.StatusCreated)
	}
	api.Anonymous().Get(t, "/projects").RequireProblem(t, http.StatusUnauthorized) // a refusal is recorded too
	require.NoError(t, srv.Stop())

	verify := func() (string, bool) {
		out, err := exec.Command(harness.RequireBinary(t), "audit", "verify", "--data-dir", dataDir,
			"--mongo-uri", stores.MongoURI, "--stream", "orchestrator").CombinedOutput()
		return string(out), err == nil
	}
	out, ok := verify()
	require.True(t, ok, out)
	require.Contains(t, out, "orchestrator: OK")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := mongo.Connect(options.Client().ApplyURI(stores.MongoURI))
	require.NoError(t, err)
	defer cli.Disconnect(ctx)
	coll := cli.Database("edgeway").Collection("audit_orchestrator")
	var orig []bson.M
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	require.NoError(t, err)
	require.NoError(t, cur.All(ctx, &orig))
	require.GreaterOrEqual(t, len(orig), 12, "an attempt and an outcome record per create")
	restore := func() {
		_, err := coll.DeleteMany(ctx, bson.D{})
		require.NoError(t, err)
		docs := make([]any, len(orig))
		for i, d := range orig {
			docs[i] = d
		}
		_, err = coll.InsertMany(ctx, docs)
		require.NoError(t, err)
		out, ok := verify()
		require.True(t, ok, "restored log verifies: %s", out)
	}
	id := func(i int) any { return orig[i]["_id"] }
	without := func(m bson.M, drop string) bson.M {
		c := bson.M{}
		for k, v := range m {
			if k != drop {
				c[k] = v
			}
		}
		return c
	}

	cases := []struct {
		name   string
		tamper func()
	}{
		{"edit a record", func() {
			_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id(3)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "subject", Value: "client:someone-else"}}}})
			require.NoError(t, err)
		}},
		{"delete from the middle", func() {
			_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id(5)}})
			require.NoError(t, err)
		}},
		{"delete the tail", func() {
			_, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: id(len(orig) - 2)}}}})
			require.NoError(t, err)
		}},
		{"reorder two records", func() {
			a, b := without(orig[6], "_id"), without(orig[7], "_id")
			_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id(6)}}, b)
			require.NoError(t, err)
			_, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id(7)}}, a)
			require.NoError(t, err)
		}},
		{"insert a forged record", func() {
			// A copy of a real record with another subject, squeezed in by
			// moving every later record up one sequence number.
			_, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: id(4)}}}})
			require.NoError(t, err)
			forged := without(orig[4], "_id")
			forged["subject"] = "client:intruder"
			forged["_id"] = id(4)
			_, err = coll.InsertOne(ctx, forged)
			require.NoError(t, err)
			for i := 4; i < len(orig); i++ {
				next := without(orig[i], "_id")
				if i+1 < len(orig) {
					next["_id"] = id(i + 1)
				} else {
					next["_id"] = fmt.Sprintf("%019d", len(orig)+1)
				}
				_, err = coll.InsertOne(ctx, next)
				require.NoError(t, err)
			}
		}},
	}
	detected := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.tamper()
			out, ok := verify()
			require.False(t, ok, "tampering not detected: %s", out)
			require.True(t, strings.Contains(out, "orchestrator: TAMPERED"), out)
			detected++
			restore()
		})
	}
	require.Equal(t, len(cases), detected, "every tampering detected")
}
