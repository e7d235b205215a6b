package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestAppendVerify(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 5)
	appendN(t, l, 22)
	require.NoError(t, l.Close(t.Context()))

	rep := e.verify(t)
	require.True(t, rep.OK(), rep.Reason)
	require.Equal(t, Report{Records: 22, Checkpoints: 5, FirstBad: -1}, rep) // 5, 10, 15, 20, 22 (Close)

	// The stored documents: string _id in sequence order, chain links.
	d1, d2 := getDoc(t, e, 1), getDoc(t, e, 2)
	require.Equal(t, "0000000000000000001", d1.ID)
	require.Empty(t, d1.Prev)
	require.Equal(t, d1.Hash, d2.Prev)
	require.Equal(t, e.service, d1.Service)
	require.Equal(t, d1.Hash, computeHash(d1.record()))

	lines := checkpoints(t, e)
	require.Len(t, lines, 5)
	last := lines[len(lines)-1]
	require.Equal(t, int64(22), last.Seq)
	require.Equal(t, getDoc(t, e, 22).Hash, last.Hash)
	require.Equal(t, e.service, last.Stream)

	// Reopening continues the chain with the same key.
	l = e.open(t, 5)
	appendN(t, l, 3)
	require.NoError(t, l.Close(t.Context()))
	rep = e.verify(t)
	require.True(t, rep.OK(), rep.Reason)
	require.Equal(t, 25, rep.Records)
	require.Equal(t, 6, rep.Checkpoints)

	_, err := Verify(t.Context(), e.db, e.service, filepath.Join(t.TempDir(), "none.jsonl"), e.pubFile())
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestRecordRoundTrip(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 100)
	when := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
	in := Record{
		Time: when, Subject: "alice\xff", Client: "cli", Project: "p1", Method: "PUT",
		Path: "/v2/projects/p1/" + strings.Repeat("é", 600), Outcome: "attempt", RequestID: "r1",
	}
	require.NoError(t, l.Append(t.Context(), in))
	require.NoError(t, l.Close(t.Context()))
	require.ErrorIs(t, l.Append(t.Context(), in), ErrClosed)
	require.NoError(t, l.Close(t.Context()))

	got := getDoc(t, e, 1).record()
	require.True(t, got.Time.Equal(when.Truncate(time.Millisecond)))
	require.Equal(t, "alice\uFFFD", got.Subject)
	require.LessOrEqual(t, len(got.Path), maxField)
	require.True(t, strings.HasSuffix(got.Path, "é"))
	require.Equal(t, got.Hash, computeHash(got))
	rep := e.verify(t)
	require.True(t, rep.OK(), rep.Reason)
}

// TestTamper changes a closed 22-record stream (checkpoints at 5, 10, 15,
// 20 and 22) the way someone with write access to the database but without
// the signing key could, and checks where Verify places the damage.
func TestTamper(t *testing.T) {
	set := func(seq int64, field string, value any) func(*testing.T, *env) {
		return func(t *testing.T, e *env) {
			_, err := e.coll().UpdateOne(t.Context(), bson.D{{Key: "_id", Value: docID(seq)}},
				bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}}}})
			require.NoError(t, err)
		}
	}
	tests := []struct {
		name     string
		tamper   func(*testing.T, *env)
		firstBad int64
		reason   string
	}{
		{"edit subject", set(7, "subject", "mallory"), 7, "edited"},
		{"edit client", set(7, "client", "x"), 7, "edited"},
		{"edit project", set(7, "project", "p2"), 7, "edited"},
		{"edit method", set(7, "method", "GET"), 7, "edited"},
		{"edit path", set(7, "path", "/v2/x"), 7, "edited"},
		{"edit outcome", set(7, "outcome", "200"), 7, "edited"},
		{"edit status", set(7, "status", 204), 7, "edited"},
		{"edit request id", set(7, "requestId", "r"), 7, "edited"},
		{"edit service", set(7, "service", "other"), 7, "edited"},
		{"edit time", set(7, "time", time.Now()), 7, "edited"},
		{"edit prev", set(7, "prev", strings.Repeat("0", 64)), 7, "edited"},
		{"edit hash", set(7, "hash", strings.Repeat("0", 64)), 7, "edited"},
		{"edit seq", set(7, "seq", int64(70)), 7, "moved"},
		{"edit and rehash", func(t *testing.T, e *env) {
			d := getDoc(t, e, 7)
			d.Subject = "mallory"
			putDoc(t, e, rehash(d))
		}, 7, "record 7 was rewritten"},
		{"replace with new prev and rehash", func(t *testing.T, e *env) {
			d := getDoc(t, e, 7)
			d.Prev = strings.Repeat("1", 64)
			putDoc(t, e, rehash(d))
		}, 7, "neither"},
		{"edit last record and rehash", func(t *testing.T, e *env) {
			d := getDoc(t, e, 22)
			d.Outcome = "204"
			putDoc(t, e, rehash(d))
		}, 21, "checkpoint"},
		{"delete from the middle", func(t *testing.T, e *env) { deleteDocs(t, e, 12) }, 12, "missing"},
		{"delete the first", func(t *testing.T, e *env) { deleteDocs(t, e, 1) }, 1, "missing"},
		{"delete the tail after a checkpoint", func(t *testing.T, e *env) { deleteDocs(t, e, 20, 21, 22) }, 20, "truncated"},
		{"reorder two", func(t *testing.T, e *env) {
			a, b := getDoc(t, e, 8), getDoc(t, e, 9)
			a.ID, b.ID = b.ID, a.ID
			putDoc(t, e, a)
			putDoc(t, e, b)
		}, 8, "moved"},
		{"reorder two keeping seq", func(t *testing.T, e *env) {
			a, b := getDoc(t, e, 8), getDoc(t, e, 9)
			a.ID, a.Seq, b.ID, b.Seq = b.ID, b.Seq, a.ID, a.Seq
			putDoc(t, e, a)
			putDoc(t, e, b)
		}, 8, "edited"},
		{"reorder two and recompute the chain", func(t *testing.T, e *env) {
			docs := allDocs(t, e)
			docs[7], docs[8] = docs[8], docs[7] // records 8 and 9
			rewriteFrom(t, e, docs, 8)
		}, 6, "records 6 to 10 were rewritten"},
		{"forged record inserted with a recomputed chain", func(t *testing.T, e *env) {
			docs := allDocs(t, e)
			forged := docs[12]
			forged.Subject, forged.Outcome, forged.RequestID = "alice", "201", "forged"
			docs = append(docs[:12:12], append([]document{forged}, docs[12:]...)...) // new record 13
			rewriteFrom(t, e, docs, 13)
		}, 11, "records 11 to 15 were rewritten"},
		{"deleted from the middle with a recomputed chain", func(t *testing.T, e *env) {
			docs := allDocs(t, e)
			deleteDocs(t, e, 22)
			rewriteFrom(t, e, append(docs[:11:11], docs[12:]...), 12)
		}, 11, "records 11 to 15 were rewritten"},
		{"truncated and appended again", func(t *testing.T, e *env) {
			deleteDocs(t, e, 20, 21, 22)
			l := e.open(t, 5)
			appendN(t, l, 4)
			require.NoError(t, l.Close(t.Context()))
		}, 16, "records 16 to 20 were rewritten"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			l := e.open(t, 5)
			appendN(t, l, 22)
			require.NoError(t, l.Close(t.Context()))
			require.True(t, e.verify(t).OK())

			tt.tamper(t, e)
			rep := e.verify(t)
			require.Equal(t, tt.firstBad, rep.FirstBad, rep.Reason)
			require.Contains(t, rep.Reason, tt.reason)
		})
	}
}

// TestForgedCheckpoints: someone who can also write the checkpoint file,
// but has not got the private key, cannot make a rewritten stream verify.
func TestForgedCheckpoints(t *testing.T) {
	_, evil, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name     string
		tamper   func(*testing.T, *env, []checkpointLine) []checkpointLine
		firstBad int64
		reason   string
	}{
		{"chain rewritten and checkpoints re-signed with another key", func(t *testing.T, e *env, cps []checkpointLine) []checkpointLine {
			docs := allDocs(t, e)
			docs[6].Subject = "mallory"
			rewriteFrom(t, e, docs, 7)
			for i := range cps {
				c := cps[i].Checkpoint
				c.Hash = getDoc(t, e, c.Seq).Hash
				realKey := c.Key
				c = signCheckpoint(evil, c)
				c.Key = realKey // claim to be the real key
				cps[i].Checkpoint = c
			}
			return cps
		}, 5, "bad signature"},
		{"checkpoint signed with another key's id", func(t *testing.T, e *env, cps []checkpointLine) []checkpointLine {
			cps[1].Checkpoint = signCheckpoint(evil, cps[1].Checkpoint)
			return cps
		}, 10, "unknown key"},
		{"checkpoint hash edited", func(t *testing.T, e *env, cps []checkpointLine) []checkpointLine {
			cps[2].Hash = getDoc(t, e, 14).Hash
			return cps
		}, 15, "bad signature"},
		{"checkpoint of another stream", func(t *testing.T, e *env, cps []checkpointLine) []checkpointLine {
			cps[2].Stream = "other"
			return cps
		}, 15, "stream"},
		{"checkpoint line garbled", func(t *testing.T, e *env, cps []checkpointLine) []checkpointLine {
			cps[2].Err = errGarble
			return cps
		}, 11, "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			l := e.open(t, 5)
			appendN(t, l, 22)
			require.NoError(t, l.Close(t.Context()))

			writeCheckpoints(t, e, tt.tamper(t, e, checkpoints(t, e)))
			rep := e.verify(t)
			require.Equal(t, tt.firstBad, rep.FirstBad, rep.Reason)
			require.Contains(t, rep.Reason, tt.reason)
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	pub, err := LoadPublicKey(filepath.Join(dir, PublicKeyFile))
	require.NoError(t, err)
	require.True(t, pub.Equal(k1.Public()))

	k2, err := LoadOrCreateKey(dir)
	require.NoError(t, err)
	require.True(t, k1.Equal(k2))

	require.NoError(t, os.Chmod(filepath.Join(dir, KeyFile), 0o644))
	_, err = LoadOrCreateKey(dir)
	require.ErrorContains(t, err, "group or others")
	require.NoError(t, os.Chmod(filepath.Join(dir, KeyFile), 0o600))

	other := t.TempDir()
	_, err = LoadOrCreateKey(other)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(other, PublicKeyFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, PublicKeyFile), b, 0o644))
	_, err = LoadOrCreateKey(dir)
	require.ErrorContains(t, err, "does not match")
}

func TestOpenRejectsBadServiceNames(t *testing.T) {
	e := newEnv(t)
	for _, s := range []string{"", "../x", "A", "a/b", "a.b", strings.Repeat("a", 64)} {
		_, err := Open(t.Context(), e.db, s, e.opts(5))
		require.Error(t, err, s)
	}
}

func TestIntervalCheckpoint(t *testing.T) {
	e := newEnv(t)
	o := e.opts(1000)
	o.Interval = 20 * time.Millisecond
	l, err := Open(t.Context(), e.db, e.service, o)
	require.NoError(t, err)
	appendN(t, l, 3)
	require.Eventually(t, func() bool {
		cps, err := readCheckpoints(e.cpFile())
		return err == nil && len(cps) > 0 && cps[len(cps)-1].Seq == 3
	}, 5*time.Second, 10*time.Millisecond)
	n := len(checkpoints(t, e))
	require.NoError(t, l.Close(t.Context())) // nothing new: no further checkpoint
	require.Len(t, checkpoints(t, e), n)
	require.True(t, e.verify(t).OK())
}

func TestConcurrentAppends(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 50)
	hammer(t, 8, 50, l)
	require.NoError(t, l.Close(t.Context()))
	rep := e.verify(t)
	require.True(t, rep.OK(), rep.Reason)
	require.Equal(t, 400, rep.Records)
	require.Len(t, allDocs(t, e), 400)
}

// TestTwoWriters: two Logs on one stream (two replicas of a service) take
// sequence numbers from each other and still leave one valid chain.
func TestTwoWriters(t *testing.T) {
	e := newEnv(t)
	l1, l2 := e.open(t, 10), e.open(t, 10)
	// l2 still believes the stream is empty: it loses sequence number 1 to
	// l1 and follows the stream to the head.
	appendN(t, l1, 3)
	require.NoError(t, l2.Append(t.Context(), Record{Subject: "second", Outcome: OutcomeAttempt}))
	require.Equal(t, "second", getDoc(t, e, 4).Subject)

	hammer(t, 2, 29, l1, l2)
	require.NoError(t, l1.Close(t.Context()))
	require.NoError(t, l2.Close(t.Context()))
	rep := e.verify(t)
	require.True(t, rep.OK(), rep.Reason)
	require.Equal(t, 120, rep.Records)
}

func TestList(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 100)
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	add := func(min int, subject, project, outcome string) {
		require.NoError(t, l.Append(t.Context(), Record{Time: t0.Add(time.Duration(min) * time.Minute),
			Subject: subject, Project: project, Outcome: outcome, Method: "POST", Path: "/v2/x"}))
	}
	add(0, "alice", "p1", "attempt")
	add(1, "alice", "p1", "201")
	add(2, "bob", "p2", "denied:403")
	add(3, "bob", "p1", "attempt")
	add(4, "bob", "p1", "500")
	defer l.Close(t.Context())

	seqs := func(f Filter) []int64 {
		rs, err := l.List(t.Context(), f)
		require.NoError(t, err)
		var out []int64
		for _, r := range rs {
			out = append(out, r.Seq)
		}
		return out
	}
	require.Equal(t, []int64{5, 4, 3, 2, 1}, seqs(Filter{}))
	require.Equal(t, []int64{5, 4}, seqs(Filter{Limit: 2}))
	require.Equal(t, []int64{5, 4, 3}, seqs(Filter{Subject: "bob"}))
	require.Equal(t, []int64{5, 4, 2, 1}, seqs(Filter{Project: "p1"}))
	require.Equal(t, []int64{3}, seqs(Filter{Outcome: "denied:403"}))
	require.Equal(t, []int64{3, 2}, seqs(Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}))
	require.Equal(t, []int64{4}, seqs(Filter{Subject: "bob", Project: "p1", Outcome: "attempt"}))

	rs, err := l.List(t.Context(), Filter{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, "500", rs[0].Outcome)
	require.True(t, rs[0].Time.Equal(t0.Add(4*time.Minute)))
	require.Equal(t, rs[0].Hash, computeHash(rs[0]))
}

// hammer appends from g goroutines per log, n records each.
func hammer(t *testing.T, g, n int, logs ...*Log) {
	errs := make(chan error, len(logs)*g*n)
	var wg sync.WaitGroup
	for _, l := range logs {
		for range g {
			wg.Go(func() {
				for range n {
					errs <- l.Append(t.Context(), Record{Subject: "s", Method: "POST", Path: "/v2/x", Outcome: OutcomeAttempt})
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// Helpers that play the attacker on the database and the checkpoint file.

func getDoc(t testing.TB, e *env, seq int64) document {
	t.Helper()
	var d document
	require.NoError(t, e.coll().FindOne(t.Context(), bson.D{{Key: "_id", Value: docID(seq)}}).Decode(&d))
	return d
}

func putDoc(t testing.TB, e *env, d document) {
	t.Helper()
	_, err := e.coll().ReplaceOne(t.Context(), bson.D{{Key: "_id", Value: d.ID}}, d,
		options.Replace().SetUpsert(true))
	require.NoError(t, err)
}

func deleteDocs(t testing.TB, e *env, seqs ...int64) {
	t.Helper()
	for _, s := range seqs {
		res, err := e.coll().DeleteOne(t.Context(), bson.D{{Key: "_id", Value: docID(s)}})
		require.NoError(t, err)
		require.Equal(t, int64(1), res.DeletedCount)
	}
}

func allDocs(t testing.TB, e *env) []document {
	t.Helper()
	cur, err := e.coll().Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	require.NoError(t, err)
	var docs []document
	require.NoError(t, cur.All(t.Context(), &docs))
	return docs
}

func rehash(d document) document {
	r := d.record()
	d.Hash = computeHash(r)
	return d
}

// rewriteFrom stores docs[from-1:] as records from, from+1, … with a
// recomputed chain, as the algorithm is public.
func rewriteFrom(t testing.TB, e *env, docs []document, from int64) {
	t.Helper()
	prev := ""
	if from > 1 {
		prev = docs[from-2].Hash
	}
	for i := from - 1; i < int64(len(docs)); i++ {
		d := docs[i]
		d.ID, d.Seq, d.Prev = docID(i+1), i+1, prev
		d = rehash(d)
		putDoc(t, e, d)
		prev = d.Hash
	}
}

var errGarble = os.ErrInvalid

func checkpoints(t testing.TB, e *env) []checkpointLine {
	t.Helper()
	cps, err := readCheckpoints(e.cpFile())
	require.NoError(t, err)
	return cps
}

func writeCheckpoints(t testing.TB, e *env, cps []checkpointLine) {
	t.Helper()
	var b strings.Builder
	for _, c := range cps {
		if c.Err != nil {
			b.WriteString("{not json\n")
			continue
		}
		line, err := json.Marshal(c.Checkpoint)
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(e.cpFile(), []byte(b.String()), 0o600))
}
