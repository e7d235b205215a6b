package secrets

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
)

// Name is the service's identity.
const Name = "secrets"

// Config configures the secrets service.
type Config struct{}

// Deps are the secrets service's collaborators.
type Deps struct {
	Log *slog.Logger
}

// Service is the secrets service.
type Service struct {
	secretsv1.UnimplementedSecretsServer
	deps Deps
}

// New builds the secrets service.
func New(_ Config, deps Deps) (*Service, error) {
	if deps.Log == nil {
		return nil, errors.New("secrets: missing dependency")
	}
	return &Service{deps: deps}, nil
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service (project secrets arrive with encryption).
func (s *Service) REST() http.Handler { return nil }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) { secretsv1.RegisterSecretsServer(g, s) }

// Policy implements svc.Service: the orchestrator and the registry seal;
// only the deployer unseals.
func (s *Service) Policy() grpcx.Policy {
	return grpcx.Policy{
		secretsv1.Secrets_Seal_FullMethodName:   {"orchestrator", "clusterregistry", "deployer"},
		secretsv1.Secrets_Unseal_FullMethodName: {"deployer"},
	}
}

// Ready implements svc.Service.
func (s *Service) Ready(context.Context) error { return nil }

const plainFormat = "plain0\x00"

// Seal implements secretsv1.SecretsServer.
func (s *Service) Seal(_ context.Context, req *secretsv1.SealRequest) (*secretsv1.SealResponse, error) {
	if req.GetAssociatedData() == "" {
		return nil, status.Error(codes.InvalidArgument, "associated data is required")
	}
	var b bytes.Buffer
	b.WriteString(plainFormat)
	b.WriteString(req.GetAssociatedData())
	b.WriteByte(0)
	b.Write(req.GetPlaintext())
	return &secretsv1.SealResponse{Ciphertext: b.Bytes()}, nil
}

// Unseal implements secretsv1.SecretsServer. A value sealed for other
// associated data is an error, never returned.
func (s *Service) Unseal(_ context.Context, req *secretsv1.UnsealRequest) (*secretsv1.UnsealResponse, error) {
	prefix := []byte(plainFormat + req.GetAssociatedData() + "\x00")
	if req.GetAssociatedData() == "" || !bytes.HasPrefix(req.GetCiphertext(), prefix) {
		return nil, status.Error(codes.InvalidArgument, "value cannot be unsealed for this associated data")
	}
	return &secretsv1.UnsealResponse{Plaintext: bytes.TrimPrefix(req.GetCiphertext(), prefix)}, nil
}
