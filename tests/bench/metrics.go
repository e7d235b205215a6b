package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The server's /metrics tells where a phase spends its time: store calls by
// service, backend and operation, and HTTP requests by route. The warm-up
// run of each N records the deltas of each phase (the measured runs do not
// scrape, so the clock sees nothing of it).

// counter is a count and a summed duration.
type counter struct {
	Count   float64 `json:"count"`
	TotalMS float64 `json:"total_ms"`
}

type scrape map[string]counter // series → totals

var metricsClient = &http.Client{Timeout: 10 * time.Second}

// scrapeMetrics reads the _sum and _count of the store call and HTTP request
// histograms.
func scrapeMetrics(adminURL string) (scrape, error) {
	resp, err := metricsClient.Get(adminURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := scrape{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var family string
		switch {
		case strings.HasPrefix(line, "edgeway_store_call_duration_seconds_"):
			family = "store"
		case strings.HasPrefix(line, "edgeway_http_request_duration_seconds_"):
			family = "http"
		default:
			continue
		}
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		key := family + " " + seriesKey(family, labels)
		c := out[key]
		switch {
		case strings.HasSuffix(name, "_sum"):
			c.TotalMS += v * 1000
		case strings.HasSuffix(name, "_count"):
			c.Count += v
		default:
			continue
		}
		out[key] = c
	}
	return out, sc.Err()
}

// seriesKey keeps the labels that say what was done: service, backend, op
// (store) or method and route (HTTP), and the result.
func seriesKey(family, labels string) string {
	m := map[string]string{}
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	if family == "store" {
		return fmt.Sprintf("%s %s %s %s", m["service"], m["backend"], m["op"], m["result"])
	}
	route := m["route"]
	if i := strings.LastIndex(route, "}/"); i >= 0 {
		route = "…" + route[i+1:]
	}
	return fmt.Sprintf("%s %s %s", m["component"], m["method"], route)
}

// delta is after − before, leaving out series that did not move, sorted by
// total time in a list for the JSON.
func delta(before, after scrape) []deltaEntry {
	var out []deltaEntry
	for k, a := range after {
		b := before[k]
		d := counter{Count: a.Count - b.Count, TotalMS: math.Round((a.TotalMS-b.TotalMS)*10) / 10}
		if d.Count > 0 {
			out = append(out, deltaEntry{Series: k, Count: d.Count, TotalMS: d.TotalMS,
				MeanMS: math.Round(d.TotalMS/d.Count*100) / 100})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TotalMS > out[j].TotalMS })
	return out
}

type deltaEntry struct {
	Series  string  `json:"series"`
	Count   float64 `json:"count"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
}

// breakdown is what the server did during the phases of one run.
type breakdown struct {
	// Instantiate: the instantiate call, until its answer.
	Instantiate []deltaEntry `json:"instantiate_call"`
	// Apply: from the answer until every object is Ready, status polls
	// included.
	Apply []deltaEntry `json:"apply_until_ready"`
	// Terminate: terminate until Terminated.
	Terminate []deltaEntry `json:"terminate"`
}
