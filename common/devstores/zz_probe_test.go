package devstores_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store/mongostore"
)

func TestZZProbe(t *testing.T) {
	ctx := t.Context()
	m, err := devstores.StartMongo(ctx, t.TempDir(), "127.0.0.1:0", testLogger(t))
	require.NoError(t, err)
	defer m.Stop()
	cli, err := devstores.Connect(ctx, m.URI())
	require.NoError(t, err)
	for _, c := range [][2]string{{"conformance", "c001"}, {"edgeway", "c001"}, {"conformance", "orchestrator"}, {"x", "y"}, {"edgeway", "orchestrator"}} {
		_, err := mongostore.New(ctx, cli.Database(c[0]), c[1])
		t.Log(c, err)
		err = cli.Database(c[0]+"2").CreateCollection(ctx, c[1])
		t.Log("create coll", err)
		_, err = cli.Database(c[0]+"2").Collection(c[1]).InsertOne(ctx, bson.D{{"_id", "a"}})
		t.Log("insert", err)
		_, err = mongostore.New(ctx, cli.Database(c[0]+"2"), c[1])
		t.Log(c, "after create", err)
	}
}
