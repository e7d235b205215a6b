package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one audit entry. It never holds secret values: no request or
// response bodies, no tokens, no query strings.
type Record struct {
	Seq     int64     // sequence number in the stream, from 1; set by Append
	Time    time.Time // when; set by Append if zero; kept to the millisecond
	Subject string    // the authenticated user or service ("" if unknown)
	Client  string    // the OAuth client (azp) the subject used, if any
	Project string    // the project the request concerns, if any
	Method  string    // HTTP method or gRPC method
	Path    string    // route path, never with the query string
	// Outcome is "attempt" before a mutation runs, the status code after it
	// ("201"), or "denied:<status>" for authentication or authorization
	// failures ("denied:401").
	Outcome   string
	Status    int    // HTTP status, 0 for an attempt
	RequestID string // the request id (reqid)
	Service   string // the service that wrote the record; Append's default
	Prev      string // Hash of the previous record, "" for Seq 1; set by Append
	Hash      string // hex SHA-256 over Prev and the record; set by Append
}

// Outcomes written by this package.
const (
	OutcomeAttempt = "attempt"
	OutcomePanic   = "panic"
	deniedPrefix   = "denied:"
)

// maxField bounds every string field of a record, in bytes, so a caller
// cannot make audit records (and appends) arbitrarily large.
const maxField = 1024

// idWidth is the width of the zero-padded _id: int64 has at most 19 digits.
const idWidth = 19

// docID returns the _id of the record with sequence seq.
func docID(seq int64) string { return fmt.Sprintf("%0*d", idWidth, seq) }

// parseID returns the sequence number of a well-formed _id.
func parseID(id string) (int64, bool) {
	if len(id) != idWidth {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// timeLayout is the canonical time encoding: UTC, always three decimals.
const timeLayout = "2006-01-02T15:04:05.000Z"

// canonical is the hashed form of a record: every field but Hash, in a fixed
// order, with fixed names.
type canonical struct {
	Seq       int64  `json:"seq"`
	Time      string `json:"time"`
	Subject   string `json:"subject"`
	Client    string `json:"client"`
	Project   string `json:"project"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Outcome   string `json:"outcome"`
	Status    int    `json:"status"`
	RequestID string `json:"requestId"`
	Service   string `json:"service"`
	Prev      string `json:"prev"`
}

// canonicalJSON returns the canonical JSON of r without its Hash.
func canonicalJSON(r Record) []byte {
	b, err := json.Marshal(canonical{
		Seq:       r.Seq,
		Time:      r.Time.UTC().Format(timeLayout),
		Subject:   r.Subject,
		Client:    r.Client,
		Project:   r.Project,
		Method:    r.Method,
		Path:      r.Path,
		Outcome:   r.Outcome,
		Status:    r.Status,
		RequestID: r.RequestID,
		Service:   r.Service,
		Prev:      r.Prev,
	})
	if err != nil { // only strings and integers: cannot happen
		panic("audit: canonical JSON: " + err.Error())
	}
	return b
}

// computeHash returns hex(SHA-256(r.Prev || canonicalJSON(r))).
func computeHash(r Record) string {
	h := sha256.New()
	h.Write([]byte(r.Prev))
	h.Write(canonicalJSON(r))
	return hex.EncodeToString(h.Sum(nil))
}

// normalize makes r storable and its hash reproducible after a round trip
// through MongoDB: UTC time truncated to the millisecond, valid UTF-8
// strings of bounded length.
func normalize(r *Record) {
	r.Time = r.Time.UTC().Truncate(time.Millisecond)
	for _, f := range []*string{&r.Subject, &r.Client, &r.Project, &r.Method, &r.Path,
		&r.Outcome, &r.RequestID, &r.Service} {
		*f = clean(*f)
	}
}

// clean returns s as valid UTF-8 of at most maxField bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxField {
		return s
	}
	s = s[:maxField]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// document is the stored form of a record.
type document struct {
	ID        string    `bson:"_id"`
	Seq       int64     `bson:"seq"`
	Time      time.Time `bson:"time"`
	Subject   string    `bson:"subject"`
	Client    string    `bson:"client"`
	Project   string    `bson:"project"`
	Method    string    `bson:"method"`
	Path      string    `bson:"path"`
	Outcome   string    `bson:"outcome"`
	Status    int       `bson:"status"`
	RequestID string    `bson:"requestId"`
	Service   string    `bson:"service"`
	Prev      string    `bson:"prev"`
	Hash      string    `bson:"hash"`
}

// Field names used in queries.
const (
	fieldID      = "_id"
	fieldTime    = "time"
	fieldSubject = "subject"
	fieldProject = "project"
	fieldOutcome = "outcome"
)

func toDocument(r Record) document {
	return document{
		ID: docID(r.Seq), Seq: r.Seq, Time: r.Time, Subject: r.Subject, Client: r.Client,
		Project: r.Project, Method: r.Method, Path: r.Path, Outcome: r.Outcome, Status: r.Status,
		RequestID: r.RequestID, Service: r.Service, Prev: r.Prev, Hash: r.Hash,
	}
}

func (d document) record() Record {
	return Record{
		Seq: d.Seq, Time: d.Time.UTC(), Subject: d.Subject, Client: d.Client,
		Project: d.Project, Method: d.Method, Path: d.Path, Outcome: d.Outcome, Status: d.Status,
		RequestID: d.RequestID, Service: d.Service, Prev: d.Prev, Hash: d.Hash,
	}
}
