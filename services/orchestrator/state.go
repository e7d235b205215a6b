package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"edgeway.dev/common/httpx"
	"edgeway.dev/common/store"
)

// Lifecycle states of a deployment intent group (EMCO's values).
const (
	StateCreated            = "Created"
	StateApproved           = "Approved"
	StateInstantiated       = "Instantiated"
	StateTerminated         = "Terminated"
	StateInstantiateStopped = "InstantiateStopped"
	StateTerminateStopped   = "TerminateStopped"
	StateUpdated            = "Updated"
)

// action is one entry of states.actions.
type action struct {
	State    string    `json:"state"`
	Instance string    `json:"instance"`
	Time     time.Time `json:"time"`
	Revision int64     `json:"revision"`
}

// revision remembers what one instantiation or update deployed, so a
// rollback can render it again.
type revision struct {
	Revision  int64           `json:"revision"`
	ContextID string          `json:"contextId"`
	DIG       json.RawMessage `json:"dig"` // the DIG body it was rendered from
}

// digState is the lifecycle record of a DIG, stored beside it.
type digState struct {
	Actions      []action   `json:"actions"`
	StatusCtxID  string     `json:"statusctxid"`
	DeploymentID string     `json:"deploymentId,omitempty"`
	Revisions    []revision `json:"revisions,omitempty"`
}

// current returns the current state: the last action's, Created when none.
func (s *digState) current() string {
	if len(s.Actions) == 0 {
		return StateCreated
	}
	return s.Actions[len(s.Actions)-1].State
}

// deployed reports whether objects of the DIG may be on clusters.
func (s *digState) deployed() bool {
	switch s.current() {
	case StateInstantiated, StateUpdated, StateInstantiateStopped, StateTerminateStopped:
		return true
	}
	return false
}

func (s *digState) lastRevision() int64 {
	if len(s.Revisions) == 0 {
		return 0
	}
	return s.Revisions[len(s.Revisions)-1].Revision
}

func (s *digState) add(state, instance string, rev int64) {
	s.Actions = append(s.Actions, action{State: state, Instance: instance, Time: time.Now().UTC(), Revision: rev})
}

func stateKey(digKey string) string { return digKey + "#state" }

// loadState returns the DIG's record and its lifecycle state; 404 when the
// DIG does not exist.
func (s *Service) loadState(ctx context.Context, v map[string]string) (store.Record, *digState, error) {
	dig, err := s.deps.Store.Get(ctx, digKey(v))
	if errors.Is(err, store.ErrNotFound) {
		return dig, nil, httpx.Errorf(http.StatusNotFound, "deployment intent group "+v["deploymentIntentGroup"]+" not found")
	}
	if err != nil {
		return dig, nil, err
	}
	st := &digState{}
	rec, err := s.deps.Store.Get(ctx, stateKey(digKey(v)))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return dig, nil, err
	default:
		if err := json.Unmarshal(rec.Body, st); err != nil {
			return dig, nil, fmt.Errorf("corrupt lifecycle state of %s: %w", digKey(v), err)
		}
	}
	return dig, st, nil
}

// transition applies fn to the DIG's lifecycle state with compare-and-swap,
// creating the state record on first use. fn returns an error (usually a
// 409) to refuse the transition.
func (s *Service) transition(ctx context.Context, v map[string]string, fn func(*digState) error) (*digState, error) {
	key := stateKey(digKey(v))
	var out *digState
	apply := func(body []byte) ([]byte, error) {
		st := &digState{}
		if len(body) > 0 {
			if err := json.Unmarshal(body, st); err != nil {
				return nil, err
			}
		}
		if len(st.Actions) == 0 {
			st.add(StateCreated, "", 0) // EMCO's history starts with Created
		}
		if err := fn(st); err != nil {
			return nil, err
		}
		out = st
		return json.Marshal(st)
	}
	for attempt := 0; attempt < 4; attempt++ {
		_, err := s.deps.Store.Update(ctx, key, func(r store.Record) (store.Record, error) {
			b, err := apply(r.Body)
			r.Body = b
			return r, err
		})
		if !errors.Is(err, store.ErrNotFound) {
			return out, err
		}
		body, err := apply(nil)
		if err != nil {
			return nil, err
		}
		_, err = s.deps.Store.Create(ctx, store.Record{Key: key, Kind: "digState", Body: body})
		if !errors.Is(err, store.ErrExists) {
			return out, err
		}
	}
	return nil, store.ErrConflict
}

func illegal(op, current string) error {
	return httpx.Errorf(http.StatusConflict, fmt.Sprintf("cannot %s: the deployment intent group is %s", op, current))
}
