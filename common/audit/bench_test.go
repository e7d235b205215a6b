package audit

import (
	"testing"
	"time"
)

// BenchmarkAppend measures sequential appends to the embedded FerretDB,
// including a signed, synced checkpoint every 100 records.
func BenchmarkAppend(b *testing.B) {
	e := newEnv(b)
	l := e.open(b, DefaultEvery)
	rec := Record{Subject: "alice", Client: "edgewayctl", Project: "p1", Method: "POST",
		Path: "/v2/projects/p1/composite-apps", Outcome: OutcomeAttempt, RequestID: "0123456789abcdef"}
	start := time.Now()
	for b.Loop() {
		if err := l.Append(b.Context(), rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	if err := l.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppendParallel measures appends from concurrent requests; they
// are serialized, so this shows the cost of waiting for the log.
func BenchmarkAppendParallel(b *testing.B) {
	e := newEnv(b)
	l := e.open(b, DefaultEvery)
	rec := Record{Subject: "alice", Method: "POST", Path: "/v2/projects/p1/apps", Outcome: OutcomeAttempt}
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(b.Context(), rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	if err := l.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
}
