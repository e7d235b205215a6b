package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Report is the result of Verify.
type Report struct {
	Records     int // records read
	Checkpoints int // checkpoints with a valid signature
	// FirstBad is the lowest sequence number from which the stream cannot be
	// trusted, or -1 if everything verified. When tampering is revealed only
	// by a checkpoint whose record has another hash (a chain recomputed by
	// someone without the key), it is the first record after the last
	// checkpoint that matched: the tampering lies between the two.
	FirstBad int64
	Reason   string // what failed at FirstBad
}

// OK reports whether the stream verified.
func (r Report) OK() bool { return r.FirstBad < 0 }

// Verify checks the audit stream of service in db against the checkpoints
// in checkpointFile and the public key in publicKeyFile: it recomputes every
// record's hash and link in sequence order, checks every checkpoint's
// signature and that the record at its sequence number has its hash, and
// that the stream is not shorter than its last checkpoint. A stream that
// does not verify is a Report with FirstBad ≥ 1, not an error; errors mean
// that the check could not be done (unreadable files, database down).
func Verify(ctx context.Context, db *mongo.Database, service string, checkpointFile, publicKeyFile string) (Report, error) {
	pub, err := LoadPublicKey(publicKeyFile)
	if err != nil {
		return Report{}, err
	}
	lines, err := readCheckpoints(checkpointFile)
	if err != nil {
		return Report{}, err
	}
	v := verifier{rep: Report{FirstBad: -1}, checkpoints: map[int64]string{}, next: 1}
	v.checkCheckpoints(service, lines, pub)

	// Checkpoints are read first: any checkpoint was written after the
	// record it names, so a live writer cannot make a correct stream look
	// truncated.
	cur, err := db.Collection(CollectionName(service)).Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: fieldID, Value: 1}}))
	if err != nil {
		return Report{}, dbError("verify", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		v.rep.Records++
		v.record(cur.Current)
	}
	if err := cur.Err(); err != nil {
		return Report{}, dbError("verify", err)
	}
	v.end()
	return v.rep, nil
}

// verifier holds the state of one Verify.
type verifier struct {
	rep            Report
	checkpoints    map[int64]string // seq → hash, validly signed
	lastCheckpoint int64            // highest validly signed seq

	next        int64  // sequence number expected next
	prev        string // hash of the previous record
	lastMatched int64  // last record that matched a checkpoint
	pending     int64  // record whose link to its predecessor failed
	broken      bool   // a record failed: stop checking records
}

// failBeforePending reports the record before a failed link as rewritten.
func (v *verifier) failBeforePending() {
	v.bad(v.pending-1, fmt.Sprintf("record %d does not link to record %d: record %d was rewritten",
		v.pending, v.pending-1, v.pending-1))
	v.pending = 0
	v.broken = true
}

// end finishes the walk.
func (v *verifier) end() {
	if v.pending > 0 {
		v.failBeforePending()
	}
	if last := v.next - 1; last < v.lastCheckpoint {
		v.bad(v.next, fmt.Sprintf("stream ends at record %d, but a checkpoint covers record %d: truncated", last, v.lastCheckpoint))
	}
}

// bad notes a problem at seq; the lowest one is reported.
func (v *verifier) bad(seq int64, reason string) {
	seq = max(seq, 1)
	if v.rep.FirstBad < 0 || seq < v.rep.FirstBad {
		v.rep.FirstBad, v.rep.Reason = seq, reason
	}
}

func (v *verifier) checkCheckpoints(service string, lines []checkpointLine, pub ed25519.PublicKey) {
	var prevSeq int64
	for _, cl := range lines {
		c := cl.Checkpoint
		switch {
		case cl.Err != nil:
			v.bad(prevSeq+1, fmt.Sprintf("checkpoint line %d: %v", cl.Line, cl.Err))
			continue
		case c.Stream != service:
			v.bad(c.Seq, fmt.Sprintf("checkpoint line %d is for stream %q", cl.Line, c.Stream))
			continue
		case c.Seq < 1:
			v.bad(prevSeq+1, fmt.Sprintf("checkpoint line %d: invalid sequence number %d", cl.Line, c.Seq))
			continue
		}
		if err := c.verifySignature(pub); err != nil {
			v.bad(c.Seq, fmt.Sprintf("checkpoint of record %d (line %d): %v", c.Seq, cl.Line, err))
			continue
		}
		if h, ok := v.checkpoints[c.Seq]; ok && h != c.Hash {
			v.bad(c.Seq, fmt.Sprintf("checkpoints of record %d disagree (line %d)", c.Seq, cl.Line))
			continue
		}
		v.checkpoints[c.Seq] = c.Hash
		v.lastCheckpoint = max(v.lastCheckpoint, c.Seq)
		prevSeq = c.Seq
		v.rep.Checkpoints++
	}
}

// record checks the next record of the walk.
func (v *verifier) record(raw bson.Raw) {
	if v.broken {
		return
	}
	fail := func(seq int64, format string, args ...any) {
		v.bad(seq, fmt.Sprintf(format, args...))
		v.broken = true
	}
	id, _ := raw.Lookup(fieldID).StringValueOK()
	seq, ok := parseID(id)
	switch {
	case !ok:
		fail(v.next, "record after %d has a malformed _id %q", v.next-1, id)
		return
	case seq != v.next:
		fail(v.next, "record %d is missing", v.next)
		return
	}
	var d document
	if err := bson.Unmarshal(raw, &d); err != nil {
		fail(seq, "record %d cannot be decoded: %v", seq, err)
		return
	}
	if d.Seq != seq {
		fail(seq, "record %d holds sequence number %d: moved", seq, d.Seq)
		return
	}
	if computeHash(d.record()) != d.Hash {
		fail(seq, "record %d does not match its hash: edited", seq)
		return
	}
	linked := d.Prev == v.prev
	if v.pending > 0 {
		// The link into record pending failed; this record tells which side
		// was rewritten.
		if !linked {
			fail(v.pending, "record %d links to neither neighbour: replaced", v.pending)
			v.pending = 0
		} else {
			v.failBeforePending()
		}
		return
	}
	if !linked && seq == 1 {
		fail(seq, "record 1 does not start the chain")
		return
	}
	if !linked {
		// Record seq and record seq-1 are each consistent but do not link.
		// Record seq-1 was rewritten (with a new hash), unless record seq
		// was (with a new Prev): then the next link fails too.
		v.pending, v.prev, v.next = seq, d.Hash, seq+1
		return
	}
	if h, ok := v.checkpoints[seq]; ok {
		if h != d.Hash {
			fail(v.lastMatched+1, "record %d does not match its signed checkpoint: records %d to %d were rewritten",
				seq, v.lastMatched+1, seq)
			return
		}
		v.lastMatched = seq
	}
	v.prev, v.next = d.Hash, seq+1
}
