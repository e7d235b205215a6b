package devstores

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"go.etcd.io/etcd/client/pkg/v3/logutil"

	"edgeway.dev/common/store"
)

// Client timeouts used by Connect and ConnectEtcd.
const (
	serverSelectionTimeout = 5 * time.Second
	connectTimeout         = 5 * time.Second
	etcdDialTimeout        = 5 * time.Second
)

func clientOptions(uri string) *options.ClientOptions {
	return options.Client().
		ApplyURI(uri).
		SetServerSelectionTimeout(serverSelectionTimeout).
		SetConnectTimeout(connectTimeout)
}

// Connect returns a MongoDB client for uri, with 5 s server selection and
// connect timeouts, after checking that the server answers a ping. The error
// does not repeat uri, which may hold a password.
func Connect(ctx context.Context, uri string) (*mongo.Client, error) {
	return ConnectTLS(ctx, uri, nil)
}

// ConnectTLS is Connect with a TLS configuration (CA, client certificate)
// for a production MongoDB; nil leaves TLS to the URI's options.
func ConnectTLS(ctx context.Context, uri string, tlsCfg *tls.Config) (*mongo.Client, error) {
	opts := clientOptions(uri)
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
	}
	cli, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("devstores: mongo client: %w", err)
	}
	if err := cli.Ping(ctx, nil); err != nil {
		_ = cli.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("devstores: ping mongo: %w: %w", store.ErrUnavailable, err)
	}
	return cli, nil
}

// ConnectEtcd returns an etcd client for endpoints with a 5 s dial timeout.
// Like clientv3.New, it does not wait for a connection: the first request
// does. The client logs only errors, to stderr.
func ConnectEtcd(endpoints []string) (*clientv3.Client, error) {
	return ConnectEtcdTLS(endpoints, nil)
}

// ConnectEtcdTLS is ConnectEtcd with a TLS configuration (CA and client
// certificate) for https endpoints.
func ConnectEtcdTLS(endpoints []string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	lg, err := logutil.CreateDefaultZapLogger(zap.ErrorLevel)
	if err != nil {
		return nil, fmt.Errorf("devstores: etcd client logger: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: etcdDialTimeout,
		Logger:      lg,
		TLS:         tlsCfg,
	})
	if err != nil {
		return nil, fmt.Errorf("devstores: etcd client: %w", err)
	}
	return cli, nil
}
