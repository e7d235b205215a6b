package deployer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/store"
)

// Name is the service's identity.
const Name = "deployer"

// Prefix is the etcd key prefix the deployer owns.
const Prefix = "/edgeway/deployer/"

// Config configures the deployer.
type Config struct{}

// Deps are the deployer's collaborators.
type Deps struct {
	Log *slog.Logger
	KV  store.KV
}

// Service is the deployer.
type Service struct {
	deployerv1.UnimplementedDeployerServer
	deps Deps
}

// New builds the deployer.
func New(_ Config, deps Deps) (*Service, error) {
	if deps.Log == nil || deps.KV == nil {
		return nil, errors.New("deployer: missing dependency")
	}
	return &Service{deps: deps}, nil
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service: the deployer has no REST routes.
func (s *Service) REST() http.Handler { return nil }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) { deployerv1.RegisterDeployerServer(g, s) }

// Policy implements svc.Service.
func (s *Service) Policy() grpcx.Policy {
	return grpcx.Policy{
		deployerv1.Deployer_Install_FullMethodName:   {"orchestrator"},
		deployerv1.Deployer_Uninstall_FullMethodName: {"orchestrator"},
		deployerv1.Deployer_Status_FullMethodName:    {"orchestrator"},
	}
}

// Ready implements svc.Service.
func (s *Service) Ready(ctx context.Context) error { return s.deps.KV.Ping(ctx) }

// contextState is the top-level record of an AppContext.
type contextState struct {
	DeployedStatus string `json:"deployedStatus"`
	ReadyStatus    string `json:"readyStatus"`
}

func stateKey(id string) string { return "contexts/" + id + "/state" }

// Status implements deployerv1.DeployerServer from the AppContext's record.
func (s *Service) Status(ctx context.Context, req *deployerv1.StatusRequest) (*deployerv1.ContextStatus, error) {
	kv, err := s.deps.KV.Get(ctx, stateKey(req.GetContextId()))
	if err != nil {
		return nil, grpcx.ToStatus(fmt.Errorf("context %s: %w", req.GetContextId(), err))
	}
	var st contextState
	if err := json.Unmarshal(kv.Value, &st); err != nil {
		return nil, grpcx.ToStatus(fmt.Errorf("context %s: corrupt state: %w", req.GetContextId(), err))
	}
	return &deployerv1.ContextStatus{ContextId: req.GetContextId(), DeployedStatus: st.DeployedStatus, ReadyStatus: st.ReadyStatus}, nil
}
