package deployer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/store"
)

// Install implements deployerv1.DeployerServer: it validates the request,
// seals the Secret manifests, writes the context's records and then its
// meta (the commit point), supersedes the previous context, and starts the
// worker. Installing an id that exists changes nothing.
func (s *Service) Install(ctx context.Context, req *deployerv1.InstallRequest) (*deployerv1.ContextResponse, error) {
	p, err := buildPlan(req, time.Now().UTC())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	id := p.meta.ContextID
	resp := &deployerv1.ContextResponse{ContextId: id}
	if _, err := s.getMeta(ctx, id); err == nil {
		return resp, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, grpcx.ToStatus(err)
	}
	if prev := p.meta.PreviousContextID; prev != "" {
		pm, err := s.getMeta(ctx, prev)
		if err != nil {
			return nil, grpcx.ToStatus(fmt.Errorf("previous %w", err))
		}
		switch {
		case pm.DeploymentID != p.meta.DeploymentID:
			return nil, status.Errorf(codes.InvalidArgument, "previous context %s belongs to another deployment", prev)
		case pm.Op == opTerminate:
			return nil, status.Errorf(codes.FailedPrecondition, "previous context %s is terminated or terminating", prev)
		case pm.SupersededBy != "" && pm.SupersededBy != id:
			return nil, status.Errorf(codes.FailedPrecondition, "previous context %s is already superseded by %s", prev, pm.SupersededBy)
		}
	}
	if err := s.writeRecords(ctx, p); err != nil {
		return nil, grpcx.ToStatus(err)
	}
	if prev := p.meta.PreviousContextID; prev != "" {
		// The previous context stops acting before this one starts, so
		// that two workers never apply the same objects.
		if _, err := s.updateMeta(ctx, prev, func(m *meta) (bool, error) {
			if m.SupersededBy == id {
				return false, nil
			}
			m.SupersededBy = id
			return true, nil
		}); err != nil {
			return nil, grpcx.ToStatus(err)
		}
		if err := s.stopWorker(ctx, prev); err != nil {
			return nil, grpcx.ToStatus(err)
		}
	}
	b, err := json.Marshal(p.meta)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	if err := s.deps.KV.Create(ctx, metaKey(id), b); err != nil && !errors.Is(err, store.ErrExists) {
		return nil, grpcx.ToStatus(err)
	}
	s.log.Info("context installed", "context_id", id, "deployment_id", p.meta.DeploymentID,
		"revision", p.meta.Revision, "previous_context_id", p.meta.PreviousContextID, "records", len(p.records))
	s.startWorker(id)
	return resp, nil
}

// writeRecords seals the plan's Secret manifests and writes its records.
// A record left by an earlier attempt that never wrote the meta is
// overwritten.
func (s *Service) writeRecords(ctx context.Context, p *plan) error {
	for key, rec := range p.records {
		for i := range rec.Resources {
			res := &rec.Resources[i]
			if !res.isSecret() {
				continue
			}
			out, err := s.deps.Secrets.Seal(ctx, &secretsv1.SealRequest{Plaintext: res.Manifest, AssociatedData: sealAAD(key, res)})
			if err != nil {
				return fmt.Errorf("seal %s: %w", res.what(), grpcx.FromStatus(err))
			}
			res.Sealed, res.Manifest = out.GetCiphertext(), nil
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if len(b) > maxRecordBytes {
			return status.Errorf(codes.InvalidArgument, "app %s on cluster %s: %d bytes of resources, more than the %d one record holds",
				rec.App, rec.clusterKey(), len(b), maxRecordBytes)
		}
		err = s.deps.KV.Create(ctx, key, b)
		if errors.Is(err, store.ErrExists) {
			err = s.deps.KV.Put(ctx, key, b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Uninstall implements deployerv1.DeployerServer: it stops the context's
// work in progress and starts deleting its objects.
func (s *Service) Uninstall(ctx context.Context, req *deployerv1.ContextRequest) (*deployerv1.ContextResponse, error) {
	id := req.GetContextId()
	m, err := s.getMeta(ctx, id)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	if m.SupersededBy != "" {
		return nil, status.Errorf(codes.FailedPrecondition, "context %s is superseded by %s: uninstall that one", id, m.SupersededBy)
	}
	resp := &deployerv1.ContextResponse{ContextId: id}
	if m.Op == opTerminate && (m.Status == StatusTerminated || m.active()) {
		s.startWorker(id) // no-op if running; restarts one lost with its process
		return resp, nil
	}
	if err := s.stopWorker(ctx, id); err != nil {
		return nil, grpcx.ToStatus(err)
	}
	if _, err := s.updateMeta(ctx, id, func(m *meta) (bool, error) {
		if m.SupersededBy != "" {
			return false, status.Errorf(codes.FailedPrecondition, "context %s is superseded by %s", id, m.SupersededBy)
		}
		m.Op, m.Stopped = opTerminate, false
		m.Status = m.inProgressStatus()
		return true, nil
	}); err != nil {
		return nil, grpcx.ToStatus(err)
	}
	s.log.Info("context uninstalling", "context_id", id)
	s.startWorker(id)
	return resp, nil
}

// Stop implements deployerv1.DeployerServer: the worker is cancelled and
// the context is not resumed; a context in progress becomes
// InstantiateStopped (TerminateStopped while terminating).
func (s *Service) Stop(ctx context.Context, req *deployerv1.ContextRequest) (*deployerv1.ContextResponse, error) {
	id := req.GetContextId()
	if _, err := s.updateMeta(ctx, id, func(m *meta) (bool, error) {
		if m.Stopped {
			return false, nil
		}
		m.Stopped = true
		switch m.Status {
		case StatusInstantiating, StatusUpdating:
			m.Status = StatusInstantiateStopped
		case StatusTerminating:
			m.Status = StatusTerminateStopped
		}
		return true, nil
	}); err != nil {
		return nil, grpcx.ToStatus(err)
	}
	if err := s.stopWorker(ctx, id); err != nil {
		return nil, grpcx.ToStatus(err)
	}
	s.log.Info("context stopped", "context_id", id)
	return &deployerv1.ContextResponse{ContextId: id}, nil
}
