package deployer

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

// unwired stands in for a client the launcher did not pass: the service
// still starts and serves Status, but every call needing the client fails
// with FailedPrecondition (not retried), so contexts fail fast and say why.
type unwired struct{ what string }

func (u unwired) err() error {
	return status.Errorf(codes.FailedPrecondition, "deployer: no %s client configured", u.what)
}

func (u unwired) GetCluster(context.Context, *clusterregistryv1.GetClusterRequest, ...grpc.CallOption) (*clusterregistryv1.Cluster, error) {
	return nil, u.err()
}

func (u unwired) ListClusters(context.Context, *clusterregistryv1.ListClustersRequest, ...grpc.CallOption) (*clusterregistryv1.ListClustersResponse, error) {
	return nil, u.err()
}

func (u unwired) GetKubeconfig(context.Context, *clusterregistryv1.GetClusterRequest, ...grpc.CallOption) (*clusterregistryv1.Kubeconfig, error) {
	return nil, u.err()
}

func (u unwired) Seal(context.Context, *secretsv1.SealRequest, ...grpc.CallOption) (*secretsv1.SealResponse, error) {
	return nil, u.err()
}

func (u unwired) Unseal(context.Context, *secretsv1.UnsealRequest, ...grpc.CallOption) (*secretsv1.UnsealResponse, error) {
	return nil, u.err()
}

func (u unwired) ListProjectSecrets(context.Context, *secretsv1.ListProjectSecretsRequest, ...grpc.CallOption) (*secretsv1.ListProjectSecretsResponse, error) {
	return nil, u.err()
}

func (u unwired) GetProjectSecret(context.Context, *secretsv1.GetProjectSecretRequest, ...grpc.CallOption) (*secretsv1.GetProjectSecretResponse, error) {
	return nil, u.err()
}
