package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// percentile is the nearest-rank percentile (p in (0, 1]) of ds: with 5
// samples the p95 is the largest one.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if p == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	k := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// summary is one figure's samples, median and p95.
type summary struct {
	MedianMS  float64   `json:"median_ms"`
	P95MS     float64   `json:"p95_ms"`
	SamplesMS []float64 `json:"samples_ms"`
	median    time.Duration
	p95       time.Duration
}

func summarize(ds []time.Duration) summary {
	s := summary{median: percentile(ds, 0.5), p95: percentile(ds, 0.95), SamplesMS: []float64{}}
	s.MedianMS, s.P95MS = ms(s.median), ms(s.p95)
	for _, d := range ds {
		s.SamplesMS = append(s.SamplesMS, ms(d))
	}
	return s
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// result is the outcome for one N.
type result struct {
	N              int          `json:"n"`
	Objects        int          `json:"objects"` // objects applied per run, all clusters together
	EdgewayApplied summary      `json:"edgeway_applied"`
	EdgewayReady   summary      `json:"edgeway_ready"`
	Floor          summary      `json:"floor"`
	Ratio          float64      `json:"ratio_applied_to_floor"` // median Edgeway Applied ÷ median floor
	EdgewayRuns    []edgewayRun `json:"edgeway_runs"`
	WarmupEdgeway  *edgewayRun  `json:"warmup_edgeway,omitempty"`
	WarmupFloorMS  []float64    `json:"warmup_floor_ms,omitempty"`
	LoadAvgBefore  string       `json:"loadavg_before"`
	LoadAvgAfter   string       `json:"loadavg_after"`
	Error          string       `json:"error,omitempty"`
	edgewayApplied []time.Duration
	edgewayReady   []time.Duration
	floor          []time.Duration
}

func (r *result) finish() {
	r.EdgewayApplied = summarize(r.edgewayApplied)
	r.EdgewayReady = summarize(r.edgewayReady)
	r.Floor = summarize(r.floor)
	if r.Floor.median > 0 {
		r.Ratio = math.Round(float64(r.EdgewayApplied.median)/float64(r.Floor.median)*100) / 100
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

func printTable(w io.Writer, rs []*result, runs int) {
	fmt.Fprintf(w, "\nEdgeway instantiate vs plain server-side apply (floor); %d runs per figure, median / p95 (nearest rank)\n", runs)
	head := fmt.Sprintf("%4s | %-25s | %-25s | %-25s | %s", "N", "Edgeway Applied med / p95", "Edgeway Ready med / p95", "floor med / p95", "Edgeway÷floor")
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, strings.Repeat("-", len([]rune(head))))
	for _, r := range rs {
		pair := func(s summary) string {
			if len(s.SamplesMS) == 0 {
				return "-"
			}
			return secs(s.median) + " / " + secs(s.p95)
		}
		ratio := "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Fprintf(w, "%4d | %-25s | %-25s | %-25s | %s\n", r.N, pair(r.EdgewayApplied), pair(r.EdgewayReady), pair(r.Floor), ratio)
	}
}

// target is one goal and whether it was met.
type target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Met   *bool   `json:"met"` // null when not measured
}

func targets(rs []*result) []target {
	ts := []target{
		{Name: "Edgeway Applied ÷ floor (medians) at N=16 ≤ 1.3", Limit: 1.3},
		{Name: "Edgeway time to Applied (median) at N=16 < 2 s", Limit: 2000},
	}
	for _, r := range rs {
		if r.N != 16 || len(r.edgewayApplied) == 0 || len(r.floor) == 0 {
			continue
		}
		a, b := r.Ratio <= 1.3, r.EdgewayApplied.MedianMS < 2000
		ts[0].Value, ts[0].Met = r.Ratio, &a
		ts[1].Value, ts[1].Met = r.EdgewayApplied.MedianMS, &b
	}
	return ts
}

func printTargets(w io.Writer, ts []target) {
	fmt.Fprintln(w, "\nTargets (reported, not enforced):")
	for _, t := range ts {
		verdict := "not measured (N=16 not run)"
		if t.Met != nil {
			verdict = "NOT met"
			if *t.Met {
				verdict = "met"
			}
			unit := ""
			if strings.Contains(t.Name, "< 2 s") {
				verdict += fmt.Sprintf(" (%.3f s)", t.Value/1000)
			} else {
				verdict += fmt.Sprintf(" (%.2f%s)", t.Value, unit)
			}
		}
		fmt.Fprintf(w, "  %-50s %s\n", t.Name, verdict)
	}
}

// printBreakdowns prints, per N, the series that took the most time in each
// phase of the warm-up run. Totals add up concurrent calls, so they can
// exceed the phase's wall time.
func printBreakdowns(w io.Writer, rs []*result) {
	printed := false
	for _, r := range rs {
		if r.WarmupEdgeway == nil || r.WarmupEdgeway.Breakdown == nil {
			continue
		}
		if !printed {
			fmt.Fprintln(w, "\nWhere the server spent its time in the warm-up run (from /metrics; summed over concurrent calls):")
			printed = true
		}
		b, e := r.WarmupEdgeway.Breakdown, r.WarmupEdgeway
		phases := []struct {
			name string
			wall time.Duration
			es   []deltaEntry
		}{
			{"instantiate call", e.Instantiate, b.Instantiate},
			{"202 → Ready (status polls included)", e.Ready - e.Instantiate, b.Apply},
		}
		for _, p := range phases {
			fmt.Fprintf(w, "  N=%d %s, %s wall:\n", r.N, p.name, secs(p.wall))
			for i, d := range p.es {
				if i == 6 {
					break
				}
				fmt.Fprintf(w, "    %-70s %5.0f calls %9.1f ms (mean %.1f ms)\n", d.Series, d.Count, d.TotalMS, d.MeanMS)
			}
		}
	}
}
