package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/rest"
	"edgeway.dev/common/store"
)

// registerLifecycle adds the DIG lifecycle verbs and status to r.
func (s *Service) registerLifecycle(r *mux.Router) {
	base := "/v2" + dig
	verbs := map[string]func(w http.ResponseWriter, r *http.Request, v map[string]string) error{
		"approve":     s.approve,
		"instantiate": s.instantiate,
		"update":      s.update,
		"rollback":    s.rollback,
		"stop":        s.stop,
		"terminate":   s.terminate,
	}
	for verb, h := range verbs {
		r.Handle(base+"/"+verb, s.handle(h)).Methods(http.MethodPost)
	}
	r.Handle(base+"/status", s.handle(s.status)).Methods(http.MethodGet)
}

func (s *Service) handle(h func(w http.ResponseWriter, r *http.Request, v map[string]string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, mux.Vars(r)); err != nil {
			httpx.WriteError(w, r, s.deps.Log, err)
		}
	})
}

func newContextID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// approve freezes the DIG's intents after checking that placement can be
// resolved (an unknown cluster or a label no cluster has is refused here).
func (s *Service) approve(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	dig, st, err := s.loadState(r.Context(), v)
	if err != nil {
		return err
	}
	switch st.current() {
	case StateCreated, StateApproved, StateTerminated:
	default:
		return illegal("approve", st.current())
	}
	if _, err := s.place(r.Context(), v, dig.Body); err != nil {
		return err
	}
	_, err = s.transition(r.Context(), v, func(st *digState) error {
		switch st.current() {
		case StateApproved:
			return nil
		case StateCreated, StateTerminated:
			st.add(StateApproved, "", st.lastRevision())
			return nil
		}
		return illegal("approve", st.current())
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// instantiate renders every app for its clusters and hands the AppContext
// to the deployer; the answer is 202 and work continues in the background.
func (s *Service) instantiate(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	return s.deploy(w, r, v, "instantiate", func(st *digState) error {
		if c := st.current(); c != StateApproved && c != StateTerminated {
			return illegal("instantiate", c)
		}
		return nil
	}, nil)
}

// update deploys the DIG as it is now as a new revision; objects that are
// no longer rendered are pruned.
func (s *Service) update(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	return s.deploy(w, r, v, "update", func(st *digState) error {
		if c := st.current(); c != StateInstantiated && c != StateUpdated {
			return illegal("update", c)
		}
		return nil
	}, nil)
}

// rollback deploys the DIG as it was at an earlier revision, as a new
// revision.
func (s *Service) rollback(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	want, err := rollbackRevision(r)
	if err != nil {
		return err
	}
	_, st, err := s.loadState(r.Context(), v)
	if err != nil {
		return err
	}
	var from *revision
	for i := range st.Revisions {
		if st.Revisions[i].Revision == want {
			from = &st.Revisions[i]
		}
	}
	if from == nil {
		return httpx.Errorf(http.StatusNotFound, fmt.Sprintf("revision %d not found", want))
	}
	return s.deploy(w, r, v, "rollback", func(st *digState) error {
		if c := st.current(); c != StateInstantiated && c != StateUpdated {
			return illegal("rollback", c)
		}
		return nil
	}, from.DIG)
}

// rollbackRevision reads {"revision": N} or EMCO's {"spec":{"revision":"N"}}.
func rollbackRevision(r *http.Request) (int64, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || len(body) == 0 {
		return 0, httpx.Errorf(http.StatusBadRequest, `body must be {"revision": N}`)
	}
	var b struct {
		Revision json.RawMessage `json:"revision"`
		Spec     struct {
			Revision json.RawMessage `json:"revision"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return 0, httpx.Errorf(http.StatusUnprocessableEntity, "body is not valid JSON")
	}
	raw := b.Revision
	if raw == nil {
		raw = b.Spec.Revision
	}
	var n int64
	var s string
	if json.Unmarshal(raw, &n) != nil {
		if json.Unmarshal(raw, &s) != nil {
			return 0, httpx.Errorf(http.StatusBadRequest, `body must be {"revision": N}`)
		}
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, httpx.Errorf(http.StatusBadRequest, "revision must be a number")
		}
	}
	if n < 1 {
		return 0, httpx.Errorf(http.StatusBadRequest, "revision must be at least 1")
	}
	return n, nil
}

// deploy is the shared path of instantiate, update and rollback. check
// refuses illegal transitions; digBody, when set, replaces the DIG's current
// body (rollback).
func (s *Service) deploy(w http.ResponseWriter, r *http.Request, v map[string]string, op string, check func(*digState) error, digBody []byte) error {
	ctx := r.Context()
	dig, st, err := s.loadState(ctx, v)
	if err != nil {
		return err
	}
	if err := check(st); err != nil {
		return err
	}
	if digBody == nil {
		digBody = dig.Body
	}
	req, err := s.assemble(ctx, v, digBody)
	if err != nil {
		return err
	}
	req.ContextId = newContextID()
	// Record the new revision first (compare-and-swap: of two concurrent
	// calls only one gets here), then hand the context to the deployer; if
	// that fails, the revision is taken back.
	var prev string
	_, err = s.transition(ctx, v, func(st *digState) error {
		if err := check(st); err != nil {
			return err
		}
		if st.DeploymentID == "" {
			st.DeploymentID = req.ContextId
		}
		req.DeploymentId = st.DeploymentID
		req.Revision = st.lastRevision() + 1
		state := StateInstantiated
		if op != "instantiate" {
			prev = st.StatusCtxID
			state = StateUpdated
		}
		st.add(state, req.ContextId, req.Revision)
		st.StatusCtxID = req.ContextId
		st.Revisions = append(st.Revisions, revision{Revision: req.Revision, ContextID: req.ContextId, DIG: digBody})
		return nil
	})
	if err != nil {
		return err
	}
	req.PreviousContextId = prev
	if _, err := s.deps.Deployer.Install(ctx, req); err != nil {
		_, rerr := s.transition(context.WithoutCancel(ctx), v, func(st *digState) error {
			if n := len(st.Actions); n > 0 && st.Actions[n-1].Instance == req.ContextId {
				st.Actions = st.Actions[:n-1]
				st.Revisions = st.Revisions[:len(st.Revisions)-1]
				st.StatusCtxID = prev
				if prev == "" && len(st.Revisions) == 0 {
					st.DeploymentID = ""
				}
			}
			return nil
		})
		if rerr != nil {
			s.deps.Log.ErrorContext(ctx, "could not take back a revision after a failed install", "dig", digKey(v), "error", rerr)
		}
		return fmt.Errorf("%s: deployer install: %w", op, grpcx.FromStatus(err))
	}
	httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"revision": req.Revision, "instance": req.ContextId})
	return nil
}

// stop cancels the deployer's work on the current context.
func (s *Service) stop(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	_, st, err := s.loadState(r.Context(), v)
	if err != nil {
		return err
	}
	if !st.deployed() || st.StatusCtxID == "" {
		return illegal("stop", st.current())
	}
	if _, err := s.deps.Deployer.Stop(r.Context(), &deployerv1.ContextRequest{ContextId: st.StatusCtxID}); err != nil {
		return fmt.Errorf("stop: %w", grpcx.FromStatus(err))
	}
	_, err = s.transition(r.Context(), v, func(st *digState) error {
		switch st.current() {
		case StateInstantiateStopped, StateTerminateStopped:
			return nil
		case StateTerminated:
			st.add(StateTerminateStopped, st.StatusCtxID, st.lastRevision())
			return nil
		}
		st.add(StateInstantiateStopped, st.StatusCtxID, st.lastRevision())
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// terminate deletes every object of the deployment from its clusters.
func (s *Service) terminate(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	_, st, err := s.loadState(r.Context(), v)
	if err != nil {
		return err
	}
	if !st.deployed() {
		return illegal("terminate", st.current())
	}
	ctxID := st.StatusCtxID
	if _, err := s.deps.Deployer.Uninstall(r.Context(), &deployerv1.ContextRequest{ContextId: ctxID}); err != nil {
		return fmt.Errorf("terminate: %w", grpcx.FromStatus(err))
	}
	_, err = s.transition(r.Context(), v, func(st *digState) error {
		if !st.deployed() {
			return illegal("terminate", st.current())
		}
		st.add(StateTerminated, ctxID, st.lastRevision())
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// digDeletable refuses to delete a DIG whose objects may still be on
// clusters.
func (s *Service) digDeletable(ctx context.Context, _ string, v map[string]string) error {
	_, st, err := s.loadState(ctx, v)
	if err != nil {
		return err
	}
	if st.deployed() {
		return httpx.Errorf(http.StatusConflict, "deployment intent group is "+st.current()+"; terminate it first")
	}
	return nil
}

// digCreated starts the DIG's lifecycle history with Created.
func (s *Service) digCreated(ctx context.Context, _ string, o *rest.Object) error {
	_, err := s.transition(ctx, o.Vars, func(*digState) error { return nil })
	return err
}

// digDeleted removes the lifecycle record of a deleted DIG.
func (s *Service) digDeleted(ctx context.Context, key string) {
	if err := s.deps.Store.Delete(ctx, stateKey(key)); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.deps.Log.WarnContext(ctx, "could not delete lifecycle state", "dig", key, "error", err)
	}
}
