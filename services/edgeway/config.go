package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"edgeway.dev/common/auth"
	"edgeway.dev/services/secrets"
)

// Services that serve on an internal mTLS listener, in start order.
var services = []string{"secrets", "clusterregistry", "orchestrator", "placement", "deployer"}

const gatewayTarget = "gateway"

// serveConfig is the configuration of `edgeway serve`.
type serveConfig struct {
	Targets       []string
	Dev           bool
	DataDir       string
	TLSDir        string
	MongoURI      string
	MongoDatabase string
	EtcdEndpoints []string
	HTTPSAddr     string
	HTTPAddr      string
	AdminAddr     string
	Addrs         map[string]*string // service → internal address
	MaxBodyBytes  int64
	LogLevel      string
	Auth          auth.Config
	// Rate limits: requests per second and burst per identity (gateway),
	// per client address (gateway), per calling service (gRPC).
	RatePerIdentity, RatePerAddress, RatePerService    float64
	BurstPerIdentity, BurstPerAddress, BurstPerService int
	// Store transport: TLS material for MongoDB and etcd, and the explicit
	// opt-out that allows plaintext store connections outside --dev.
	MongoCAFile, MongoCertFile, MongoKeyFile string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile    string
	InsecureStore                            bool
	// ReencryptInterval is how often sealed records are moved to the
	// primary key after a rotation.
	ReencryptInterval time.Duration
	// Secrets is the key source of the secrets service.
	Secrets secrets.Config
	// Deployer: clusters worked on at once per deployment, and failed
	// attempts before an unreachable cluster is given up (0: forever).
	ClusterConcurrency, RetryLimit int
}

func defaultAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", 9101+i) }

// RegisterFlags binds the configuration to flags with their defaults.
func (c *serveConfig) RegisterFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&c.Targets, "target", []string{"all"}, "services to run: all, or a comma list of "+strings.Join(append(slices.Clone(services), gatewayTarget), ", "))
	fs.BoolVar(&c.Dev, "dev", false, "development mode: embedded FerretDB and etcd under --data-dir when no store is given, and a generated dev CA")
	fs.StringVar(&c.DataDir, "data-dir", ".edgeway", "directory for embedded stores, dev certificates and keys")
	fs.StringVar(&c.TLSDir, "tls-dir", "", "directory with ca.crt, <service>.crt/.key and https.crt/.key (default <data-dir>/tls)")
	fs.StringVar(&c.MongoURI, "mongo-uri", "", "MongoDB URI (default in --dev: embedded FerretDB)")
	fs.StringVar(&c.MongoDatabase, "mongo-database", "edgeway", "MongoDB database name")
	fs.StringSliceVar(&c.EtcdEndpoints, "etcd-endpoints", nil, "etcd endpoints (default in --dev: embedded etcd)")
	fs.StringVar(&c.HTTPSAddr, "https-addr", "127.0.0.1:9443", "HTTPS API listen address (gateway)")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:9080", "plain-HTTP listen address that only redirects to HTTPS (gateway)")
	fs.StringVar(&c.AdminAddr, "admin-addr", "127.0.0.1:9090", "admin listen address: /healthz, /readyz, /metrics")
	c.Addrs = map[string]*string{}
	for i, s := range []string{"orchestrator", "clusterregistry", "placement", "secrets", "deployer"} {
		c.Addrs[s] = new(string)
		fs.StringVar(c.Addrs[s], s+"-addr", defaultAddr(i), "internal mTLS address of the "+s+" service (listened on when local, dialled otherwise)")
	}
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 8<<20, "largest accepted request body in bytes (charts and kubeconfigs included)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	c.Auth.RegisterFlags(fs)
	c.Secrets.RegisterFlags(fs)
	fs.StringVar(&c.MongoCAFile, "mongo-ca-file", "", "CA certificate(s) to verify MongoDB's TLS certificate (enables TLS)")
	fs.StringVar(&c.MongoCertFile, "mongo-cert-file", "", "client certificate for MongoDB X.509 authentication (SCRAM: put the user in --mongo-uri)")
	fs.StringVar(&c.MongoKeyFile, "mongo-key-file", "", "client key for --mongo-cert-file")
	fs.StringVar(&c.EtcdCAFile, "etcd-ca-file", "", "CA certificate(s) to verify etcd's TLS certificate")
	fs.StringVar(&c.EtcdCertFile, "etcd-cert-file", "", "client certificate for etcd")
	fs.StringVar(&c.EtcdKeyFile, "etcd-key-file", "", "client key for --etcd-cert-file")
	fs.DurationVar(&c.ReencryptInterval, "reencrypt-interval", 30*time.Second, "how often services move sealed records to the primary key after `edgeway keys rotate`")
	fs.BoolVar(&c.InsecureStore, "insecure-store", false, "allow plaintext MongoDB / etcd connections outside --dev (logged as a warning at every start)")
	fs.IntVar(&c.ClusterConcurrency, "deployer-cluster-concurrency", 16, "clusters the deployer works on at once per deployment")
	fs.IntVar(&c.RetryLimit, "deployer-retry-limit", 20, "failed attempts before the deployer gives up an unreachable cluster (0: retry forever)")
	fs.Float64Var(&c.RatePerIdentity, "rate-per-identity", 50, "requests per second per authenticated identity at the gateway (0: unlimited)")
	fs.IntVar(&c.BurstPerIdentity, "burst-per-identity", 100, "burst per authenticated identity")
	fs.Float64Var(&c.RatePerAddress, "rate-per-address", 200, "requests per second per client address at the gateway, before authentication (0: unlimited)")
	fs.IntVar(&c.BurstPerAddress, "burst-per-address", 400, "burst per client address")
	fs.Float64Var(&c.RatePerService, "rate-per-service", 500, "gRPC calls per second per calling service (0: unlimited)")
	fs.IntVar(&c.BurstPerService, "burst-per-service", 1000, "gRPC burst per calling service")
}

// devClientID is the public client of the dev identity provider.
const devClientID = "edgeway"

// Finish fills derived values after flags are parsed.
func (c *serveConfig) Finish() {
	if c.TLSDir == "" {
		c.TLSDir = filepath.Join(c.DataDir, "tls")
	}
	if c.Dev {
		if c.Auth.Issuer == "" {
			c.Auth.Issuer = "https://" + c.HTTPSAddr + "/dev-idp"
		}
		if c.Auth.ClientID == "" {
			c.Auth.ClientID = devClientID
		}
	}
	c.Secrets.DataDir, c.Secrets.Dev = c.DataDir, c.Dev
	if len(c.Targets) == 1 && c.Targets[0] == "all" {
		c.Targets = append(slices.Clone(services), gatewayTarget)
	}
}

// Validate reports every problem at once.
func (c *serveConfig) Validate() error {
	var errs []error
	for _, t := range c.Targets {
		if !slices.Contains(services, t) && t != gatewayTarget {
			errs = append(errs, fmt.Errorf("--target: unknown service %q", t))
		}
	}
	if !c.Dev {
		if c.MongoURI == "" && (c.runs("orchestrator") || c.runs("clusterregistry") || c.runs("secrets") || c.runs(gatewayTarget)) {
			errs = append(errs, errors.New("--mongo-uri is required outside --dev"))
		}
		if len(c.EtcdEndpoints) == 0 && c.runs("deployer") {
			errs = append(errs, errors.New("--etcd-endpoints is required outside --dev"))
		}
		if c.MongoURI != "" && !c.InsecureStore && !mongoUsesTLS(c.MongoURI, c.MongoCAFile) {
			errs = append(errs, errors.New("--mongo-uri: plaintext MongoDB connections are refused outside --dev; use tls=true in the URI or --mongo-ca-file (or --insecure-store)"))
		}
		for _, ep := range c.EtcdEndpoints {
			if !strings.HasPrefix(ep, "https://") && !c.InsecureStore {
				errs = append(errs, fmt.Errorf("--etcd-endpoints: %s is plaintext; etcd connections outside --dev need https:// with --etcd-ca-file and a client certificate (or --insecure-store)", ep))
			}
		}
		if _, err := os.Stat(filepath.Join(c.TLSDir, "ca.crt")); err != nil {
			errs = append(errs, fmt.Errorf("--tls-dir: %s/ca.crt is required outside --dev", c.TLSDir))
		}
	}
	addrs := map[string]string{"--https-addr": c.HTTPSAddr, "--http-addr": c.HTTPAddr, "--admin-addr": c.AdminAddr}
	for s, a := range c.Addrs {
		addrs["--"+s+"-addr"] = *a
	}
	for flag, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", flag, err))
		}
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.runs("secrets") {
		if err := c.Secrets.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("--max-body-bytes must be at least 1024"))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	return errors.Join(errs...)
}

func (c *serveConfig) addr(service string) string { return *c.Addrs[service] }

// mongoUsesTLS reports whether a MongoDB connection will use TLS.
func mongoUsesTLS(uri, caFile string) bool {
	u := strings.ToLower(uri)
	return caFile != "" || strings.HasPrefix(u, "mongodb+srv://") ||
		strings.Contains(u, "tls=true") || strings.Contains(u, "ssl=true")
}

func (c *serveConfig) runs(target string) bool { return slices.Contains(c.Targets, target) }

func (c *serveConfig) logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}
