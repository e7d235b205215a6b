package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store"
	"edgeway.dev/common/store/etcdstore"
	"edgeway.dev/common/store/mongostore"
	"edgeway.dev/common/tlsx"
)

// stores are the connections of one process to MongoDB and etcd, started
// embedded in --dev when no external store is given.
type stores struct {
	db      *mongo.Database
	mongo   *mongo.Client
	etcd    *clientv3.Client
	closers []func()
}

func openStores(ctx context.Context, cfg *serveConfig, log *slog.Logger) (*stores, error) {
	s := &stores{}
	var err error
	// The gateway writes its own audit stream.
	needMongo := cfg.runs("orchestrator") || cfg.runs("clusterregistry") || cfg.runs("secrets") || cfg.runs(gatewayTarget)
	needEtcd := cfg.runs("deployer")
	if needMongo {
		uri := cfg.MongoURI
		if uri == "" {
			m, err := devstores.StartMongo(ctx, filepath.Join(cfg.DataDir, "ferretdb"), "127.0.0.1:0", log)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("embedded FerretDB: %w", err)
			}
			s.closers = append(s.closers, m.Stop)
			uri = m.URI()
			log.Info("embedded FerretDB started", "dir", filepath.Join(cfg.DataDir, "ferretdb"))
		}
		var tlsCfg *tls.Config
		if cfg.MongoCAFile != "" {
			if tlsCfg, err = storeTLS(cfg.MongoCAFile, cfg.MongoCertFile, cfg.MongoKeyFile); err != nil {
				s.Close()
				return nil, fmt.Errorf("MongoDB TLS: %w", err)
			}
		} else if cfg.MongoURI != "" && !mongoUsesTLS(cfg.MongoURI, "") {
			log.Warn("MongoDB connection is not encrypted", "insecure_store", cfg.InsecureStore, "dev", cfg.Dev)
		}
		cli, err := devstores.ConnectTLS(ctx, uri, tlsCfg)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("MongoDB: %w", err)
		}
		s.mongo = cli
		s.db = cli.Database(cfg.MongoDatabase)
	}
	if needEtcd {
		eps := cfg.EtcdEndpoints
		if len(eps) == 0 {
			e, err := devstores.StartEtcd(filepath.Join(cfg.DataDir, "etcd"), "127.0.0.1:0", log)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("embedded etcd: %w", err)
			}
			s.closers = append(s.closers, e.Stop)
			eps = e.Endpoints()
			log.Info("embedded etcd started", "dir", filepath.Join(cfg.DataDir, "etcd"))
		}
		var tlsCfg *tls.Config
		if cfg.EtcdCAFile != "" {
			if tlsCfg, err = storeTLS(cfg.EtcdCAFile, cfg.EtcdCertFile, cfg.EtcdKeyFile); err != nil {
				s.Close()
				return nil, fmt.Errorf("etcd TLS: %w", err)
			}
		} else if len(cfg.EtcdEndpoints) > 0 {
			log.Warn("etcd connection is not encrypted", "insecure_store", cfg.InsecureStore, "dev", cfg.Dev)
		}
		cli, err := devstores.ConnectEtcdTLS(eps, tlsCfg)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("etcd: %w", err)
		}
		s.etcd = cli
	}
	return s, nil
}

// storeTLS builds the client TLS configuration for a store: its CA and,
// when given, a client certificate.
func storeTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := tlsx.LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// resources returns the collection store of a service.
func (s *stores) resources(ctx context.Context, service string) (store.Resources, error) {
	if s.db == nil {
		return nil, fmt.Errorf("%s needs MongoDB", service)
	}
	return mongostore.New(ctx, s.db, service)
}

// kv returns the etcd store under a service's prefix.
func (s *stores) kv(prefix string) (store.KV, error) {
	if s.etcd == nil {
		return nil, fmt.Errorf("etcd is not configured")
	}
	return etcdstore.New(s.etcd, prefix), nil
}

// Close disconnects and stops embedded stores, last started first.
func (s *stores) Close() {
	if s.mongo != nil {
		_ = s.mongo.Disconnect(context.Background())
	}
	if s.etcd != nil {
		_ = s.etcd.Close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func devStoresCmd() *cobra.Command {
	var dataDir, mongoAddr, etcdAddr string
	cmd := &cobra.Command{
		Use:   "dev-stores",
		Short: "Run only the embedded FerretDB and etcd (and the dev CA), for several serve processes to share",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			if err := tlsx.EnsureDevPKI(filepath.Join(dataDir, "tls"), append(services, gatewayTarget)); err != nil {
				return err
			}
			m, err := devstores.StartMongo(ctx, filepath.Join(dataDir, "ferretdb"), mongoAddr, log)
			if err != nil {
				return err
			}
			defer m.Stop()
			e, err := devstores.StartEtcd(filepath.Join(dataDir, "etcd"), etcdAddr, log)
			if err != nil {
				return err
			}
			defer e.Stop()
			out, _ := json.Marshal(map[string]any{"mongo_uri": m.URI(), "etcd_endpoints": e.Endpoints()})
			fmt.Println(string(out))
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".edgeway", "directory for the stores and the dev CA")
	cmd.Flags().StringVar(&mongoAddr, "mongo-addr", "127.0.0.1:27017", "FerretDB listen address")
	cmd.Flags().StringVar(&etcdAddr, "etcd-addr", "127.0.0.1:2379", "etcd client listen address")
	return cmd
}
