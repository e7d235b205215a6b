package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	placementv1 "edgeway.dev/api-spec/gen/placement/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/api-spec/openapi"
	"edgeway.dev/common/audit"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/ratelimit"
	"edgeway.dev/common/store"
	"edgeway.dev/common/svc"
	"edgeway.dev/common/tlsx"
	"edgeway.dev/services/clusterregistry"
	"edgeway.dev/services/deployer"
	"edgeway.dev/services/gateway"
	"edgeway.dev/services/gateway/devidp"
	"edgeway.dev/services/orchestrator"
	"edgeway.dev/services/placement"
	"edgeway.dev/services/secrets"
)

func serveCmd() *cobra.Command {
	cfg := &serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Edgeway services (--target=all runs every one in this process)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Finish()
			if err := cfg.Validate(); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg)
		},
	}
	cfg.RegisterFlags(cmd.Flags())
	return cmd
}

// process holds what the services of one process share.
type process struct {
	cfg       *serveConfig
	log       *slog.Logger
	reg       *prometheus.Registry
	storeM    *store.StoreMetrics
	stores    *stores
	reloaders map[string]*tlsx.Reloader
	conns     []*grpc.ClientConn
	verifier  *auth.Verifier
	audits    map[string]*audit.Log
}

func serve(ctx context.Context, cfg *serveConfig) error {
	log := cfg.logger()
	if cfg.Dev {
		if err := tlsx.EnsureDevPKI(cfg.TLSDir, append(services, gatewayTarget)); err != nil {
			return fmt.Errorf("dev PKI: %w", err)
		}
		log.Info("dev mode: certificates under tls dir", "tls_dir", cfg.TLSDir, "ca", filepath.Join(cfg.TLSDir, "ca.crt"))
	}
	p := &process{cfg: cfg, log: log, reg: prometheus.NewRegistry(), reloaders: map[string]*tlsx.Reloader{}, audits: map[string]*audit.Log{}}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.storeM = store.NewStoreMetrics(p.reg)
	defer p.closeConns()
	authCfg := cfg.Auth
	if cfg.Dev {
		// The dev identity provider is served by the gateway with the dev CA.
		pool, err := tlsx.LoadCAPool(filepath.Join(cfg.TLSDir, "ca.crt"))
		if err != nil {
			return err
		}
		authCfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	p.verifier = auth.NewVerifier(authCfg, log.With("component", "auth"))

	st, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	p.stores = st
	defer p.closeAudits()

	g, gctx := errgroup.WithContext(ctx)
	var local []svc.Service
	for _, name := range services {
		if !cfg.runs(name) {
			continue
		}
		s, err := p.build(gctx, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rl, err := p.reloader(name)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.addr(name))
		if err != nil {
			return fmt.Errorf("%s: listen: %w", name, err)
		}
		opts := svc.Options{Log: log.With("service", name), Metrics: httpx.NewMetrics(p.reg, name), TLS: rl.ServerConfig(),
			CallerLimit: ratelimit.New(cfg.RatePerService, cfg.BurstPerService)}
		g.Go(func() error { return svc.Serve(gctx, s, ln, opts) })
		if c, ok := s.(interface{ Close() error }); ok {
			// Background work (the deployer's workers) stops with the process.
			g.Go(func() error { <-gctx.Done(); return c.Close() })
		}
		local = append(local, s)
		log.Info("service listening", "service", name, "addr", ln.Addr().String())
	}
	if cfg.runs(gatewayTarget) {
		if err := p.startGateway(gctx, g); err != nil {
			return err
		}
	}
	if err := p.startAdmin(gctx, g, local); err != nil {
		return err
	}
	log.Info("edgeway started", "targets", cfg.Targets, "dev", cfg.Dev)
	err = g.Wait()
	log.Info("edgeway stopped")
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (p *process) reloader(identity string) (*tlsx.Reloader, error) {
	if r, ok := p.reloaders[identity]; ok {
		return r, nil
	}
	r, err := tlsx.NewReloader(tlsx.ServiceFiles(p.cfg.TLSDir, identity), p.log.With("identity", identity))
	if err != nil {
		return nil, fmt.Errorf("certificates of %s: %w", identity, err)
	}
	p.reloaders[identity] = r
	return r, nil
}

// dial connects service from to service to over mTLS.
func (p *process) dial(from, to string) (*grpc.ClientConn, error) {
	rl, err := p.reloader(from)
	if err != nil {
		return nil, err
	}
	cc, err := grpcx.Dial(p.cfg.addr(to), rl.ClientConfig(to), grpcx.WaitForPeer())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", to, err)
	}
	p.conns = append(p.conns, cc)
	return cc, nil
}

func (p *process) closeConns() {
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// build constructs one service with its stores and clients.
func (p *process) build(ctx context.Context, name string) (svc.Service, error) {
	log := p.log.With("service", name)
	switch name {
	case deployer.Name:
		kv, err := p.stores.kv(deployer.Prefix)
		if err != nil {
			return nil, err
		}
		cr, err := p.dial(name, clusterregistry.Name)
		if err != nil {
			return nil, err
		}
		sc, err := p.dial(name, secrets.Name)
		if err != nil {
			return nil, err
		}
		dcfg := deployer.DefaultConfig()
		dcfg.ClusterConcurrency = p.cfg.ClusterConcurrency
		dcfg.RetryLimit = p.cfg.RetryLimit
		dcfg.ReencryptInterval = p.cfg.ReencryptInterval
		return deployer.New(dcfg, deployer.Deps{Log: log, KV: store.InstrumentKV(kv, p.storeM, name),
			ClusterRegistry: clusterregistryv1.NewClusterRegistryClient(cr), Secrets: secretsv1.NewSecretsClient(sc),
			ProjectSecrets: secretsv1.NewProjectSecretsClient(sc), Keys: secretsv1.NewKeysClient(sc)})
	case placement.Name:
		cr, err := p.dial(name, clusterregistry.Name)
		if err != nil {
			return nil, err
		}
		return placement.New(placement.Config{}, placement.Deps{Log: log, ClusterRegistry: clusterregistryv1.NewClusterRegistryClient(cr)})
	}
	contract, err := openapi.Load()
	if err != nil {
		return nil, fmt.Errorf("API contract: %w", err)
	}
	res, err := p.stores.resources(ctx, name)
	if err != nil {
		return nil, err
	}
	res = store.InstrumentResources(res, p.storeM, name)
	al, err := p.audit(ctx, name)
	if err != nil {
		return nil, err
	}
	switch name {
	case secrets.Name:
		oc, err := p.dial(name, orchestrator.Name)
		if err != nil {
			return nil, err
		}
		scfg := p.cfg.Secrets
		scfg.MaxBodyBytes, scfg.ReencryptInterval = p.cfg.MaxBodyBytes, p.cfg.ReencryptInterval
		return secrets.New(scfg, secrets.Deps{Log: log, Store: res, Contract: contract,
			Orchestrator: orchestratorv1.NewOrchestratorClient(oc), Auth: p.verifier, Audit: al})
	case orchestrator.Name:
		cr, err := p.dial(name, clusterregistry.Name)
		if err != nil {
			return nil, err
		}
		pl, err := p.dial(name, placement.Name)
		if err != nil {
			return nil, err
		}
		dp, err := p.dial(name, deployer.Name)
		if err != nil {
			return nil, err
		}
		sc, err := p.dial(name, secrets.Name)
		if err != nil {
			return nil, err
		}
		return orchestrator.New(orchestrator.Config{MaxBodyBytes: p.cfg.MaxBodyBytes}, orchestrator.Deps{
			Log: log, Store: res, Contract: contract, ClusterRegistry: clusterregistryv1.NewClusterRegistryClient(cr),
			Placement: placementv1.NewPlacementClient(pl), Deployer: deployerv1.NewDeployerClient(dp),
			Secrets: secretsv1.NewProjectSecretsClient(sc), Auth: p.verifier,
			Audit: al, AuditReader: func(ctx context.Context, service string, f audit.Filter) ([]audit.Record, error) {
				return audit.ListStream(ctx, p.stores.db, service, f)
			},
		})
	case clusterregistry.Name:
		oc, err := p.dial(name, orchestrator.Name)
		if err != nil {
			return nil, err
		}
		sc, err := p.dial(name, secrets.Name)
		if err != nil {
			return nil, err
		}
		reg, err := clusterregistry.New(clusterregistry.Config{MaxBodyBytes: p.cfg.MaxBodyBytes, AllowLoopbackClusters: p.cfg.Dev}, clusterregistry.Deps{
			Log: log, Store: res, Contract: contract,
			Orchestrator: orchestratorv1.NewOrchestratorClient(oc), Secrets: secretsv1.NewSecretsClient(sc), Auth: p.verifier,
			Audit: al, Keys: secretsv1.NewKeysClient(sc),
		})
		if err != nil {
			return nil, err
		}
		go reg.RunReencryption(ctx, p.cfg.ReencryptInterval)
		return reg, nil
	}
	return nil, fmt.Errorf("unknown service %q", name)
}

func (p *process) startGateway(ctx context.Context, g *errgroup.Group) error {
	rl, err := p.reloader(gatewayTarget)
	if err != nil {
		return err
	}
	public, err := tlsx.NewReloader(tlsx.ServiceFiles(p.cfg.TLSDir, tlsx.HTTPSName), p.log.With("identity", tlsx.HTTPSName))
	if err != nil {
		return fmt.Errorf("HTTPS certificate: %w", err)
	}
	gwAudit, err := p.audit(ctx, gatewayTarget)
	if err != nil {
		return err
	}
	var devIdP http.Handler
	if p.cfg.Dev {
		idp, err := devidp.New(ctx, devidp.Config{DataDir: p.cfg.DataDir, Issuer: p.cfg.Auth.Issuer, Log: p.log.With("component", "dev-idp")})
		if err != nil {
			return fmt.Errorf("dev identity provider: %w", err)
		}
		devIdP = idp.Handler()
		p.log.Info("dev identity provider: credentials of the admin user and the edgeway-ci client are in the credentials file",
			"issuer", idp.Issuer(), "credentials_file", devidp.CredentialsPath(p.cfg.DataDir))
	}
	gw, err := gateway.New(gateway.Config{
		HTTPSAddr:    p.cfg.HTTPSAddr,
		MaxBodyBytes: p.cfg.MaxBodyBytes,
		Discovery:    gateway.Discovery{Issuer: p.cfg.Auth.Issuer, ClientID: p.cfg.Auth.ClientID, API: "/v2"},
		Routes: []gateway.Route{
			{Prefix: "/v2/projects", Service: orchestrator.Name, Addr: p.cfg.addr(orchestrator.Name)},
			{Pattern: "/v2/projects/*/secrets", Service: secrets.Name, Addr: p.cfg.addr(secrets.Name)},
			{Prefix: "/v2/controllers", Service: orchestrator.Name, Addr: p.cfg.addr(orchestrator.Name)},
			{Prefix: "/v2/audit", Service: orchestrator.Name, Addr: p.cfg.addr(orchestrator.Name)},
			{Prefix: "/v2/cluster-providers", Service: clusterregistry.Name, Addr: p.cfg.addr(clusterregistry.Name)},
		},
	}, gateway.Deps{
		Log:         p.log.With("service", gatewayTarget),
		Metrics:     httpx.NewMetrics(p.reg, gatewayTarget),
		ClientTLS:   func(service string) *tls.Config { return rl.ClientConfig(service) },
		Auth:        p.verifier,
		PerIdentity: ratelimit.New(p.cfg.RatePerIdentity, p.cfg.BurstPerIdentity),
		PerAddress:  ratelimit.New(p.cfg.RatePerAddress, p.cfg.BurstPerAddress),
		DevIdP:      devIdP,
		Denied:      gwAudit.Denied,
	})
	if err != nil {
		return err
	}
	httpsLn, err := net.Listen("tcp", p.cfg.HTTPSAddr)
	if err != nil {
		return fmt.Errorf("gateway: listen https: %w", err)
	}
	httpLn, err := net.Listen("tcp", p.cfg.HTTPAddr)
	if err != nil {
		httpsLn.Close()
		return fmt.Errorf("gateway: listen http: %w", err)
	}
	g.Go(func() error { return gw.Serve(ctx, httpsLn, httpLn, public.PublicServerConfig()) })
	p.log.Info("gateway listening", "https", httpsLn.Addr().String(), "http_redirect", httpLn.Addr().String())
	return nil
}

func (p *process) startAdmin(ctx context.Context, g *errgroup.Group, local []svc.Service) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		cctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		for _, s := range local {
			if err := s.Ready(cctx); err != nil {
				p.log.Warn("not ready", "service", s.Name(), "error", err)
				http.Error(w, s.Name()+" not ready", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", p.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin: listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}

// audit opens the audit stream of a service: records in MongoDB, signed
// checkpoints and the signing key outside it, under the data dir.
func (p *process) audit(ctx context.Context, service string) (*audit.Log, error) {
	if l, ok := p.audits[service]; ok {
		return l, nil
	}
	if p.stores.db == nil {
		return nil, fmt.Errorf("%s: the audit log needs MongoDB", service)
	}
	l, err := audit.Open(ctx, p.stores.db, service, audit.Options{
		CheckpointDir: filepath.Join(p.cfg.DataDir, "audit"),
		KeyDir:        filepath.Join(p.cfg.DataDir, "keys"),
		Log:           p.log.With("component", "audit", "stream", service),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: audit log: %w", service, err)
	}
	p.audits[service] = l
	return l, nil
}

func (p *process) closeAudits() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, l := range p.audits {
		if err := l.Close(ctx); err != nil {
			p.log.Error("closing the audit log", "stream", name, "error", err)
		}
	}
}
