package deployer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/store"
	"edgeway.dev/services/secrets/reencrypt"
)

// Name is the service's identity.
const Name = "deployer"

// Prefix is the etcd key prefix the deployer owns.
const Prefix = "/edgeway/deployer/"

// Config configures the deployer. Start from DefaultConfig: in the zero
// value RetryLimit 0 means "retry forever"; zero durations and concurrency
// are replaced by their defaults.
type Config struct {
	// ClusterConcurrency bounds the clusters one context works on at once.
	ClusterConcurrency int
	// RetryBase is the first wait before retrying an unreachable cluster;
	// it doubles with every attempt up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// RetryLimit is the number of failed attempts after which a cluster is
	// given up (its resources Failed); 0 retries forever.
	RetryLimit int
	// ReadyPoll is the interval between readiness checks of live objects.
	ReadyPoll time.Duration
	// RequestTimeout bounds one request to a cluster's API server.
	RequestTimeout time.Duration
	// StatusTimeout bounds the live reads of a Status call with detail, per
	// cluster.
	StatusTimeout time.Duration
	// ReencryptInterval is the time between two runs of the job that moves
	// the sealed Secret manifests onto the secrets service's primary key;
	// a new primary key starts a run within ReencryptCheck. Negative:
	// no job.
	ReencryptInterval time.Duration
}

// ReencryptCheck is how often the re-encryption job asks the secrets
// service which key is primary.
const ReencryptCheck = 10 * time.Second

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		ClusterConcurrency: 8,
		RetryBase:          500 * time.Millisecond,
		RetryMax:           10 * time.Second,
		RetryLimit:         20,
		ReadyPoll:          time.Second,
		RequestTimeout:     30 * time.Second,
		StatusTimeout:      3 * time.Second,
		ReencryptInterval:  time.Minute,
	}
}

// RegisterFlags binds the configuration to flags, with c's current values
// as defaults (call it on DefaultConfig()).
func (c *Config) RegisterFlags(fs *pflag.FlagSet) {
	fs.IntVar(&c.ClusterConcurrency, "deployer-cluster-concurrency", c.ClusterConcurrency, "clusters one deployment works on at once")
	fs.DurationVar(&c.RetryBase, "deployer-retry-base", c.RetryBase, "first wait before retrying an unreachable cluster (doubles per attempt)")
	fs.DurationVar(&c.RetryMax, "deployer-retry-max", c.RetryMax, "longest wait between retries of an unreachable cluster")
	fs.IntVar(&c.RetryLimit, "deployer-retry-limit", c.RetryLimit, "failed attempts before a cluster is given up (0: retry forever)")
	fs.DurationVar(&c.ReadyPoll, "deployer-ready-poll", c.ReadyPoll, "interval between readiness checks of deployed objects")
	fs.DurationVar(&c.RequestTimeout, "deployer-request-timeout", c.RequestTimeout, "timeout of one request to a cluster")
	fs.DurationVar(&c.StatusTimeout, "deployer-status-timeout", c.StatusTimeout, "timeout of the live reads of a detailed status, per cluster")
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.ClusterConcurrency < 0 {
		errs = append(errs, errors.New("deployer: cluster concurrency must not be negative"))
	}
	if c.RetryLimit < 0 {
		errs = append(errs, errors.New("deployer: retry limit must not be negative (0 retries forever)"))
	}
	for name, d := range map[string]time.Duration{
		"retry base": c.RetryBase, "retry max": c.RetryMax, "ready poll": c.ReadyPoll,
		"request timeout": c.RequestTimeout, "status timeout": c.StatusTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("deployer: %s must not be negative", name))
		}
	}
	if c.RetryBase > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryBase {
		errs = append(errs, errors.New("deployer: retry max must be at least retry base"))
	}
	return errors.Join(errs...)
}

// withDefaults replaces zero values (except RetryLimit) by the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ClusterConcurrency == 0 {
		c.ClusterConcurrency = d.ClusterConcurrency
	}
	if c.RetryBase == 0 {
		c.RetryBase = d.RetryBase
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(d.RetryMax, c.RetryBase)
	}
	if c.ReadyPoll == 0 {
		c.ReadyPoll = d.ReadyPoll
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.StatusTimeout == 0 {
		c.StatusTimeout = d.StatusTimeout
	}
	if c.ReencryptInterval == 0 {
		c.ReencryptInterval = d.ReencryptInterval
	}
	return c
}

// Deps are the deployer's collaborators.
type Deps struct {
	Log *slog.Logger
	// KV is the deployer's etcd store, under Prefix.
	KV store.KV
	// ClusterRegistry hands out sealed kubeconfigs (GetKubeconfig). Without
	// it (and without Secrets) the service starts, but no context can reach
	// a cluster.
	ClusterRegistry clusterregistryv1.ClusterRegistryClient
	// Secrets seals Secret manifests and unseals them and kubeconfigs.
	Secrets secretsv1.SecretsClient
	// ProjectSecrets hands out the sealed values of the project secrets
	// that Secret manifests refer to (annotation edgeway.dev/project-secret).
	// Without it such a Secret fails to apply.
	ProjectSecrets secretsv1.ProjectSecretsClient
	// Keys serves the re-encryption job of the sealed Secret manifests
	// (secretsv1.KeysClient); without it the job does not run.
	Keys reencrypt.Client
}

// Service is the deployer.
type Service struct {
	deployerv1.UnimplementedDeployerServer
	cfg  Config
	deps Deps
	log  *slog.Logger

	// ctx ends with Close; every worker runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	workers map[string]*worker // context id → its running worker

	conns connCache
}

// New builds the deployer and starts, in the background, the workers of
// the contexts a previous process left unfinished. Close stops them.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Log == nil || deps.KV == nil {
		return nil, errors.New("deployer: missing dependency (Log and KV are required)")
	}
	if deps.ClusterRegistry == nil {
		deps.Log.Warn("deployer: no cluster registry client: contexts will fail to reach their clusters")
		deps.ClusterRegistry = unwired{what: "cluster registry"}
	}
	if deps.Secrets == nil {
		deps.Log.Warn("deployer: no secrets client: Secret manifests and kubeconfigs cannot be sealed or unsealed")
		deps.Secrets = unwired{what: "secrets"}
	}
	if deps.ProjectSecrets == nil {
		deps.ProjectSecrets = unwired{what: "project secrets"}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg:     cfg.withDefaults(),
		deps:    deps,
		log:     deps.Log,
		ctx:     ctx,
		cancel:  cancel,
		workers: map[string]*worker{},
	}
	s.conns.init(s.cfg.RequestTimeout)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.resume(ctx)
	}()
	if deps.Keys != nil && s.cfg.ReencryptInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.reencryptLoop(ctx)
		}()
	}
	return s, nil
}

// Close stops every worker and waits for them. Work in progress is resumed
// by the next process from etcd.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service: the deployer has no REST routes.
func (s *Service) REST() http.Handler { return nil }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) { deployerv1.RegisterDeployerServer(g, s) }

// Policy implements svc.Service: only the orchestrator drives deployments.
func (s *Service) Policy() grpcx.Policy {
	return grpcx.Policy{
		deployerv1.Deployer_Install_FullMethodName:   {"orchestrator"},
		deployerv1.Deployer_Uninstall_FullMethodName: {"orchestrator"},
		deployerv1.Deployer_Stop_FullMethodName:      {"orchestrator"},
		deployerv1.Deployer_Status_FullMethodName:    {"orchestrator"},
	}
}

// Ready implements svc.Service.
func (s *Service) Ready(ctx context.Context) error { return s.deps.KV.Ping(ctx) }
