package reencrypt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

// tinkPrefix starts every ciphertext sealed by the secrets service: one
// version byte, then the sealing key's id (big endian).
const (
	tinkStartByte  = 0x01
	tinkPrefixSize = 5
)

// KeyID returns the id of the key that sealed ciphertext, read from tink's
// output prefix; ok is false for a value that carries none (not sealed by
// the secrets service). It does not check that the value is authentic.
func KeyID(ciphertext []byte) (id uint32, ok bool) {
	if len(ciphertext) < tinkPrefixSize || ciphertext[0] != tinkStartByte {
		return 0, false
	}
	return binary.BigEndian.Uint32(ciphertext[1:tinkPrefixSize]), true
}

// Client is the part of secretsv1.KeysClient a job uses.
type Client interface {
	KeyStatus(ctx context.Context, in *secretsv1.KeyStatusRequest, opts ...grpc.CallOption) (*secretsv1.KeyStatusResponse, error)
	Rewrap(ctx context.Context, in *secretsv1.RewrapRequest, opts ...grpc.CallOption) (*secretsv1.RewrapResponse, error)
}

var _ Client = secretsv1.KeysClient(nil)

// Item is one sealed value of the owner's records.
type Item struct {
	// Key identifies the record (and field) to the owner's Rewrite.
	Key string
	// AssociatedData is the value's associated data, as given to Seal.
	AssociatedData string
	// Ciphertext is the stored value; Rewrite may compare it to swap only
	// an unchanged record.
	Ciphertext []byte
}

// RewriteFunc stores ciphertext in place of it.Ciphertext. It should be a
// compare-and-swap: a record changed since it was read (sealed anew, so
// already on the primary key, or deleted) is left alone and reported as
// nil, or as an error to stop the job.
type RewriteFunc func(ctx context.Context, it Item, ciphertext []byte) error

// Job re-encrypts a set of sealed values.
type Job struct {
	// Keys is the secrets service's Keys client.
	Keys Client
	// Items yields the owner's sealed values; a yielded error stops the job.
	Items iter.Seq2[Item, error]
	// Total is the number of items when known (0: unknown), for Progress.
	Total int
	// Rewrite stores a rewrapped value.
	Rewrite RewriteFunc
	// Progress, when set, is called after each item with the items done so
	// far (skipped ones included) and Total.
	Progress func(done, total int)
}

// Stats counts what one run did.
type Stats struct {
	// Done is the number of items handled.
	Done int
	// Rewrapped items were moved to the primary key and rewritten.
	Rewrapped int
	// Skipped items were already on the primary key.
	Skipped int
	// Failed lists the keys of items the secrets service could not unseal
	// (damaged, moved, or sealed with a retired key); they are left as
	// they are and the job goes on.
	Failed []string
}

// ErrUnsealable is returned by Run, after every item was tried, when some
// could not be unsealed (Stats.Failed).
var ErrUnsealable = errors.New("reencrypt: some values cannot be unsealed")

// Run re-encrypts every item not sealed with the primary key, one at a
// time. A value the service cannot unseal is recorded in Stats.Failed and
// skipped (Run then ends with ErrUnsealable); any other error, or the end
// of ctx, stops the job at once. Run it again to resume.
func (j *Job) Run(ctx context.Context) (Stats, error) {
	var st Stats
	if j.Keys == nil || j.Items == nil || j.Rewrite == nil {
		return st, errors.New("reencrypt: Keys, Items and Rewrite are required")
	}
	ks, err := j.Keys.KeyStatus(ctx, &secretsv1.KeyStatusRequest{})
	if err != nil {
		return st, fmt.Errorf("reencrypt: key status: %w", err)
	}
	primary := ks.GetPrimaryKeyId()
	for it, err := range j.Items {
		if err != nil {
			return st, fmt.Errorf("reencrypt: items: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		rewrapped, err := j.one(ctx, it, &primary)
		switch {
		case errors.Is(err, errUnsealable):
			st.Failed = append(st.Failed, it.Key)
		case err != nil:
			return st, fmt.Errorf("reencrypt %s: %w", it.Key, err)
		case rewrapped:
			st.Rewrapped++
		default:
			st.Skipped++
		}
		st.Done++
		if j.Progress != nil {
			j.Progress(st.Done, j.Total)
		}
	}
	if len(st.Failed) > 0 {
		return st, fmt.Errorf("%w: %d, first %s", ErrUnsealable, len(st.Failed), st.Failed[0])
	}
	return st, nil
}

// errUnsealable marks a value the service refused to unseal.
var errUnsealable = errors.New("cannot be unsealed")

// one moves it to the primary key; primary follows a rotation seen on
// the way.
func (j *Job) one(ctx context.Context, it Item, primary *uint32) (bool, error) {
	if id, ok := KeyID(it.Ciphertext); ok && id == *primary {
		return false, nil
	}
	resp, err := j.Keys.Rewrap(ctx, &secretsv1.RewrapRequest{Ciphertext: it.Ciphertext, AssociatedData: it.AssociatedData})
	if status.Code(err) == codes.InvalidArgument {
		return false, errUnsealable
	}
	if err != nil {
		return false, fmt.Errorf("rewrap: %w", err)
	}
	*primary = resp.GetKeyId()
	if !resp.GetRewrapped() {
		return false, nil
	}
	if err := j.Rewrite(ctx, it, resp.GetCiphertext()); err != nil {
		return false, fmt.Errorf("rewrite: %w", err)
	}
	return true, nil
}

// Run re-encrypts items (a slice the owner has read) with a Job; see
// Job.Run.
func Run(ctx context.Context, client Client, items []Item, rewrite RewriteFunc, progress func(done, total int)) (Stats, error) {
	j := &Job{
		Keys: client,
		Items: func(yield func(Item, error) bool) {
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
		},
		Total:    len(items),
		Rewrite:  rewrite,
		Progress: progress,
	}
	return j.Run(ctx)
}
