package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Checkpoint vouches for a stream up to Seq: the record at Seq has Hash.
// Sig is the Ed25519 signature of signedBytes, by the key whose id is Key.
type Checkpoint struct {
	Stream string    `json:"stream"` // the service
	Seq    int64     `json:"seq"`
	Hash   string    `json:"hash"`
	Time   time.Time `json:"time"`
	Key    string    `json:"key"` // KeyID of the signing key
	Sig    []byte    `json:"sig"` // base64 in JSON
}

// signContext separates checkpoint signatures from any other use of the key.
const signContext = "edgeway-audit-checkpoint-v1\n"

// signedBytes returns what a checkpoint's signature covers: every field but
// Sig, in a fixed encoding.
func (c Checkpoint) signedBytes() []byte {
	b, err := json.Marshal(struct {
		Stream string `json:"stream"`
		Seq    int64  `json:"seq"`
		Hash   string `json:"hash"`
		Time   string `json:"time"`
		Key    string `json:"key"`
	}{c.Stream, c.Seq, c.Hash, c.Time.UTC().Format(time.RFC3339Nano), c.Key})
	if err != nil { // strings and integers only
		panic("audit: checkpoint encoding: " + err.Error())
	}
	return append([]byte(signContext), b...)
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

func signCheckpoint(key ed25519.PrivateKey, c Checkpoint) Checkpoint {
	c.Key = KeyID(key.Public().(ed25519.PublicKey))
	c.Sig = ed25519.Sign(key, c.signedBytes())
	return c
}

// verifySignature reports whether c is signed by pub.
func (c Checkpoint) verifySignature(pub ed25519.PublicKey) error {
	if c.Key != KeyID(pub) {
		return fmt.Errorf("signed by unknown key %q", c.Key)
	}
	if !ed25519.Verify(pub, c.signedBytes(), c.Sig) {
		return errors.New("bad signature")
	}
	return nil
}

// Sink receives signed checkpoints and keeps them outside the database.
// Put must return only once the checkpoint is durable.
type Sink interface {
	Put(ctx context.Context, c Checkpoint) error
	Close() error
}

// CheckpointFile returns the path of the checkpoint file of service in dir.
func CheckpointFile(dir, service string) string {
	return filepath.Join(dir, "checkpoints-"+service+".jsonl")
}

// FileSink appends checkpoints as JSON lines to a file, syncing each one.
type FileSink struct {
	mu sync.Mutex
	f  *os.File
}

// NewFileSink opens (creating 0600, and dir 0700) the checkpoint file of
// service in dir for appending.
func NewFileSink(dir, service string) (*FileSink, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: checkpoint directory: %w", err)
	}
	f, err := os.OpenFile(CheckpointFile(dir, service), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint file: %w", err)
	}
	return &FileSink{f: f}, nil
}

// Put appends c as one line and syncs the file.
func (s *FileSink) Put(_ context.Context, c Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("audit: encode checkpoint: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("audit: checkpoint file closed")
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("audit: sync checkpoint: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// maxCheckpointLine bounds a line of a checkpoint file.
const maxCheckpointLine = 64 << 10

// checkpointLine is a checkpoint as read back, with its line number, or the
// reason the line could not be parsed.
type checkpointLine struct {
	Line int
	Checkpoint
	Err error
}

// readCheckpoints reads every line of a checkpoint file.
func readCheckpoints(path string) ([]checkpointLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint file: %w", err)
	}
	defer f.Close()
	var out []checkpointLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxCheckpointLine)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		cl := checkpointLine{Line: n}
		if err := json.Unmarshal(sc.Bytes(), &cl.Checkpoint); err != nil {
			cl.Err = fmt.Errorf("unreadable: %w", err)
		}
		out = append(out, cl)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit: read checkpoint file: %w", err)
	}
	return out, nil
}
