// Command bench measures how long Edgeway takes to instantiate a composite
// app of three Helm charts (25 objects per cluster) onto N real clusters,
// against a floor measured in the same run: the same rendered objects
// server-side applied with plain client-go, all clusters at once.
//
//	go run ./tests/bench -runs 5 -n 1,4,16      (or: make bench)
//
// It starts one fleet of max(N) kube-apiservers (edgecluster) and one
// `edgeway serve --target=all --dev` (harness), registers every cluster, and
// for each N places the apps on the first N clusters (label bench-nN). Each
// measured run instantiates the DIG and polls its status until every object
// is Applied on every cluster, then until the DIG is Ready (the apiservers
// run no controllers: the benchmark reports every Deployment rolled out as
// soon as it appears), then terminates it and waits for Terminated, outside
// the clock. Floor runs apply the same objects with field manager
// bench-floor into a fresh namespace per run. Edgeway and floor runs
// alternate, and one unrecorded warm-up of each comes first for every N
// (discovery, connections, caches).
//
// It prints a table of medians and p95s and the ratio Edgeway ÷ floor, says
// whether the targets are met (it never fails on them), and writes the
// figures as JSON to -out (default: a new temporary directory, printed),
// with the server's /metrics beside it. The warm-up run of each N also
// records what the server did in each phase (store calls and HTTP requests
// from /metrics), printed after the table; measured runs never scrape.
//
// The server is built from the working tree (harness.Binary) unless
// EDGEWAY_BIN names a binary; -server-arg passes flags to it, e.g.
// -server-arg=--deployer-cluster-concurrency=16.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"edgeway.dev/tests/edgecluster"
	"edgeway.dev/tests/harness"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type config struct {
	runs       int
	warmup     int
	ns         []int
	out        string
	poll       time.Duration
	limit      time.Duration
	logLevel   string
	serverArgs stringList
	keep       bool
}

func main() {
	var cfg config
	var nList string
	flag.IntVar(&cfg.runs, "runs", 5, "measured runs per N, for Edgeway and for the floor each")
	flag.IntVar(&cfg.warmup, "warmup", 1, "unrecorded warm-up runs per N before the measured ones")
	flag.StringVar(&nList, "n", "1,4,16", "comma-separated cluster counts; the fleet has the largest")
	flag.StringVar(&cfg.out, "out", "", "JSON results file (default: bench-results.json in a new temporary directory)")
	flag.DurationVar(&cfg.poll, "poll", 20*time.Millisecond, "pause between two status polls")
	flag.DurationVar(&cfg.limit, "run-timeout", 3*time.Minute, "give up on a run after this long")
	flag.StringVar(&cfg.logLevel, "log-level", "info", "edgeway serve --log-level")
	flag.Var(&cfg.serverArgs, "server-arg", "extra `flag` for edgeway serve, e.g. --deployer-cluster-concurrency=16 (repeatable)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the server's data and log directories")
	flag.Parse()
	for _, f := range strings.Split(nList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -n: %q is not a positive number\n", f)
			os.Exit(2)
		}
		if !slices.Contains(cfg.ns, n) {
			cfg.ns = append(cfg.ns, n)
		}
	}
	if cfg.runs < 1 || cfg.warmup < 0 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1 and -warmup not negative")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// report is the JSON document.
type report struct {
	Started           time.Time `json:"started"`
	CPUs              int       `json:"cpus"`
	ObjectsPerCluster int       `json:"objects_per_cluster"`
	Runs              int       `json:"runs"`
	Warmup            int       `json:"warmup"`
	PollMS            float64   `json:"poll_ms"`
	ServerArgs        []string  `json:"server_args"`
	LogLevel          string    `json:"server_log_level"`
	FleetStartS       float64   `json:"fleet_start_s"`
	Results           []*result `json:"results"`
	Targets           []target  `json:"targets"`
	RolloutUpdates    int64     `json:"rollout_status_updates"`
	RolloutErrors     int64     `json:"rollout_status_errors"`
	ServerLog         string    `json:"server_log,omitempty"`
	MetricsFile       string    `json:"metrics_file,omitempty"`
	Error             string    `json:"error,omitempty"`
}

func run(cfg config) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	objs, err := renderAll()
	if err != nil {
		return err
	}
	out := cfg.out
	if out == "" {
		dir, err := os.MkdirTemp("", "edgeway-bench-")
		if err != nil {
			return err
		}
		out = filepath.Join(dir, "bench-results.json")
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	rep := &report{
		Started: time.Now().UTC(), CPUs: runtime.NumCPU(), ObjectsPerCluster: len(objs),
		Runs: cfg.runs, Warmup: cfg.warmup, PollMS: ms(cfg.poll), ServerArgs: append([]string{}, cfg.serverArgs...), LogLevel: cfg.logLevel,
	}
	// Whatever happens, write what was measured.
	defer func() {
		if err != nil {
			rep.Error = err.Error()
		}
		for _, r := range rep.Results {
			r.finish()
		}
		printTable(os.Stdout, rep.Results, cfg.runs)
		rep.Targets = targets(rep.Results)
		printTargets(os.Stdout, rep.Targets)
		printBreakdowns(os.Stdout, rep.Results)
		data, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(out, append(data, '\n'), 0o644)
		}
		if jerr != nil {
			fmt.Fprintln(os.Stderr, "bench: writing results:", jerr)
		} else {
			fmt.Printf("\nresults: %s\n", out)
		}
	}()

	maxN := slices.Max(cfg.ns)

	// The server and the fleet start at the same time.
	type started struct {
		srv *harness.Server
		err error
	}
	srvc := make(chan started, 1)
	var dataDir, logDir string
	if dataDir, err = os.MkdirTemp("", "edgeway-bench-data-"); err != nil {
		return err
	}
	if logDir, err = os.MkdirTemp("", "edgeway-bench-log-"); err != nil {
		return err
	}
	defer func() {
		if cfg.keep || err != nil {
			fmt.Fprintf(os.Stderr, "bench: server data kept in %s, log in %s\n", dataDir, logDir)
			return
		}
		_ = os.RemoveAll(dataDir)
		_ = os.RemoveAll(logDir)
	}()
	go func() {
		srv, err := harness.Launch(harness.Options{DataDir: dataDir, LogDir: logDir, LogLevel: cfg.logLevel, ExtraArgs: cfg.serverArgs})
		if err == nil {
			if err = srv.AwaitReady(); err != nil {
				err = fmt.Errorf("%w; log tail:\n%s", err, srv.Tail(40))
			}
		}
		srvc <- started{srv, err}
	}()
	log.Info("starting the fleet (a first run builds kube-apiserver)", "clusters", maxN)
	fleetBegan := time.Now()
	fleet, ferr := edgecluster.Start(ctx, edgecluster.Options{N: maxN, Log: log, ReadyTimeout: 15 * time.Minute})
	s := <-srvc
	if s.srv != nil {
		defer func() {
			if serr := s.srv.Stop(); serr != nil {
				fmt.Fprintln(os.Stderr, "bench: stopping edgeway:", serr)
			}
			harness.CleanupBinary()
		}()
		rep.ServerLog = s.srv.LogPath
	}
	if ferr != nil {
		return fmt.Errorf("fleet: %w", ferr)
	}
	defer fleet.Close()
	rep.FleetStartS = time.Since(fleetBegan).Round(100 * time.Millisecond).Seconds()
	if s.err != nil {
		return fmt.Errorf("edgeway: %w", s.err)
	}
	srv := s.srv
	log.Info("fleet and edgeway ready", "took", time.Since(fleetBegan).Round(time.Second), "edgeway", srv.URL, "admin", srv.AdminURL)

	api, err := adminAPI(srv)
	if err != nil {
		return err
	}
	c := client{api: api}
	clusters := fleet.Clusters()
	kcs := make([]*kubeClient, len(clusters))
	for i, cl := range clusters {
		if kcs[i], err = newKubeClient(cl); err != nil {
			return fmt.Errorf("%s: %w", cl.Name, err)
		}
	}
	// The informers stop before the fleet does (defers run last first).
	fakerCtx, stopFaker := context.WithCancel(ctx)
	defer stopFaker()
	faker := &rolloutFaker{log: log}
	if err := faker.start(fakerCtx, kcs); err != nil {
		return err
	}
	defer func() {
		rep.RolloutUpdates, rep.RolloutErrors = faker.updates.Load(), faker.errors.Load()
	}()
	if err := setup(c, clusters, cfg.ns); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	log.Info("clusters registered, charts uploaded, DIGs approved", "objects per cluster", len(objs))

	for _, n := range cfg.ns {
		r := &result{N: n, Objects: n * len(objs), LoadAvgBefore: loadavg()}
		rep.Results = append(rep.Results, r)
		if err := measure(ctx, cfg, log, c, srv.AdminURL, kcs[:n], objs, r); err != nil {
			r.Error = err.Error()
			r.LoadAvgAfter = loadavg()
			return fmt.Errorf("N=%d: %w\nedgeway log tail (%s):\n%s", n, err, srv.LogPath, srv.Tail(40))
		}
		r.LoadAvgAfter = loadavg()
	}
	if mf, err := saveMetrics(srv, filepath.Dir(out)); err == nil {
		rep.MetricsFile = mf
	} else {
		log.Warn("metrics", "error", err)
	}
	return nil
}

// measure runs the warm-ups and the measured runs for one N.
func measure(ctx context.Context, cfg config, log *slog.Logger, c client, adminURL string, kcs []*kubeClient, objs []floorObject, r *result) error {
	n := len(kcs)
	total := cfg.warmup + cfg.runs
	for i := 1; i <= total; i++ {
		if err := createNamespaces(ctx, kcs, floorNamespace(n, i)); err != nil {
			return fmt.Errorf("floor namespace: %w", err)
		}
	}
	edgeway := func(i int, warm bool) error {
		admin := ""
		if warm {
			admin = adminURL
		}
		er, err := runEdgeway(ctx, c, n, len(objs), cfg.poll, cfg.limit, admin)
		if err != nil {
			return fmt.Errorf("edgeway run %d: %w", i, err)
		}
		if warm && i == 1 {
			if err := checkEdgewayObjects(ctx, kcs[0], objs); err != nil {
				return fmt.Errorf("Edgeway's objects are not the floor's: %w", err)
			}
		}
		var before scrape
		if warm {
			before, _ = scrapeMetrics(adminURL)
		}
		if er.Terminate, err = terminate(ctx, c, n, cfg.limit); err != nil {
			return fmt.Errorf("edgeway run %d: %w", i, err)
		}
		if warm && er.Breakdown != nil {
			if after, err := scrapeMetrics(adminURL); err == nil {
				er.Breakdown.Terminate = delta(before, after)
			}
		}
		if warm {
			r.WarmupEdgeway = &er
		} else {
			r.EdgewayRuns = append(r.EdgewayRuns, er)
			r.edgewayApplied = append(r.edgewayApplied, er.Applied)
			r.edgewayReady = append(r.edgewayReady, er.Ready)
		}
		log.Info("edgeway", "n", n, "run", label(i, cfg.warmup), "applied", er.Applied.Round(time.Millisecond),
			"deployer_done", er.Done.Round(time.Millisecond), "ready", er.Ready.Round(time.Millisecond),
			"instantiate_call", er.Instantiate.Round(time.Millisecond), "polls", er.Polls, "poll_median", er.PollMedian.Round(time.Millisecond),
			"terminate", er.Terminate.Round(time.Millisecond))
		return nil
	}
	floor := func(i int, warm bool) error {
		ns := floorNamespace(n, i)
		d, err := runFloor(ctx, kcs, objs, ns)
		if err != nil {
			return fmt.Errorf("floor run %d: %w", i, err)
		}
		if warm {
			r.WarmupFloorMS = append(r.WarmupFloorMS, ms(d))
		} else {
			r.floor = append(r.floor, d)
		}
		log.Info("floor", "n", n, "run", label(i, cfg.warmup), "applied", d.Round(time.Millisecond))
		if err := cleanFloor(ctx, kcs, objs, ns); err != nil {
			return fmt.Errorf("floor run %d: clean up: %w", i, err)
		}
		return nil
	}
	for i := 1; i <= total; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		warm := i <= cfg.warmup
		// Alternate which goes first, so a drift of the machine's load
		// falls on both.
		first, second := edgeway, floor
		if i%2 == 0 {
			first, second = floor, edgeway
		}
		if err := first(i, warm); err != nil {
			return err
		}
		settle(ctx)
		if err := second(i, warm); err != nil {
			return err
		}
		settle(ctx)
	}
	return nil
}

// settle lets the apiservers and the server finish what a run left behind
// (watch events, readiness polls, store compaction) before the next one.
func settle(ctx context.Context) { sleep(ctx, time.Second) }

func label(i, warmup int) string {
	if i <= warmup {
		return fmt.Sprintf("warm-up %d", i)
	}
	return strconv.Itoa(i - warmup)
}

// adminAPI returns the platform admin's API client; harness.Server.API
// panics when the token cannot be had.
func adminAPI(srv *harness.Server) (api *harness.API, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("edgeway API client: %v", p)
		}
	}()
	api = srv.API()
	api.Contract = nil // TryDo does not check it; keep the client lean anyway
	return api, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// saveMetrics stores the server's /metrics next to the results.
func saveMetrics(srv *harness.Server, dir string) (string, error) {
	resp, err := http.Get(srv.AdminURL + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", errors.New("GET /metrics: " + resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "edgeway-metrics.txt")
	return p, os.WriteFile(p, b, 0o644)
}
