package deployer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Top-level deployed statuses (EMCO's values).
const (
	StatusInstantiating      = "Instantiating"
	StatusInstantiated       = "Instantiated"
	StatusInstantiateFailed  = "InstantiateFailed"
	StatusInstantiateStopped = "InstantiateStopped"
	StatusUpdating           = "Updating"
	StatusUpdated            = "Updated"
	StatusUpdateFailed       = "UpdateFailed"
	StatusTerminating        = "Terminating"
	StatusTerminated         = "Terminated"
	StatusTerminateFailed    = "TerminateFailed"
	StatusTerminateStopped   = "TerminateStopped"
)

// Per-resource deployed statuses.
const (
	ResourcePending = "Pending"
	ResourceApplied = "Applied"
	ResourceFailed  = "Failed"
	ResourceDeleted = "Deleted"
)

// Ready statuses.
const (
	Ready      = "Ready"
	NotReady   = "NotReady"
	NotPresent = "NotPresent"
)

// Cluster connectivity.
const (
	ConnAvailable = "Available"
	ConnRetrying  = "Retrying"
	ConnUnknown   = "Unknown"
)

// Operations a context's worker carries out.
const (
	opApply     = "apply"
	opTerminate = "terminate"
)

// The label put on every applied object, and the field manager of the
// server-side applies.
const (
	LabelDeployment      = "edgeway.dev/deployment"
	FieldManager         = "edgeway"
	setupApp             = "~setup" // record name of the setup resources; not a valid app name
	clusterKeySeparator  = "+"
	maxRecordBytes       = 1 << 20 // etcd's default request limit is 1.5 MiB
	opStatusReady        = "Ready"
	opStatusDeployed     = "Deployed"
	maxDependencyWaitSec = 3600
)

// meta is the top-level record of an AppContext.
type meta struct {
	ContextID         string    `json:"contextId"`
	DeploymentID      string    `json:"deploymentId"`
	Revision          int64     `json:"revision"`
	PreviousContextID string    `json:"previousContextId,omitempty"`
	Op                string    `json:"op"`
	Status            string    `json:"status"`
	Stopped           bool      `json:"stopped,omitempty"`
	SupersededBy      string    `json:"supersededBy,omitempty"`
	Created           time.Time `json:"created"`
	Updated           time.Time `json:"updated"`
	// Apps in request order, with their dependencies.
	Apps []appMeta `json:"apps"`
	// Clusters are the cluster keys (provider+cluster) the context touches,
	// sorted.
	Clusters []string `json:"clusters"`
}

type appMeta struct {
	Name      string       `json:"name"`
	DependsOn []dependency `json:"dependsOn,omitempty"`
}

type dependency struct {
	App         string `json:"app"`
	OpStatus    string `json:"opStatus"`
	WaitSeconds int32  `json:"waitSeconds,omitempty"`
}

// failedStatus and doneStatus are the outcomes of the context's operation.
func (m *meta) doneStatus(ok bool) string {
	switch {
	case m.Op == opTerminate && ok:
		return StatusTerminated
	case m.Op == opTerminate:
		return StatusTerminateFailed
	case m.PreviousContextID != "" && ok: // update or rollback (a re-instantiate after terminate is not)
		return StatusUpdated
	case m.PreviousContextID != "":
		return StatusUpdateFailed
	case ok:
		return StatusInstantiated
	default:
		return StatusInstantiateFailed
	}
}

func (m *meta) inProgressStatus() string {
	switch {
	case m.Op == opTerminate:
		return StatusTerminating
	case m.PreviousContextID != "":
		return StatusUpdating
	default:
		return StatusInstantiating
	}
}

// active reports whether a worker should be running for the context.
func (m *meta) active() bool {
	if m.Stopped || m.SupersededBy != "" {
		return false
	}
	switch m.Status {
	case StatusInstantiating, StatusUpdating, StatusTerminating:
		return true
	}
	return false
}

// record holds the resources of one app (or the setup) on one cluster.
type record struct {
	App             string     `json:"app"` // setupApp for the setup resources
	ClusterProvider string     `json:"clusterProvider"`
	Cluster         string     `json:"cluster"`
	Resources       []resource `json:"resources"`
}

func (r *record) clusterKey() string { return clusterKey(r.ClusterProvider, r.Cluster) }

// resource is one object of a record. Exactly one of Manifest (JSON) and
// Sealed (a Secret's JSON manifest, sealed by the secrets service) is set.
type resource struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	Namespace  string          `json:"namespace,omitempty"`
	Early      bool            `json:"early,omitempty"` // a CRD or Namespace: applied before every app
	Manifest   json.RawMessage `json:"manifest,omitempty"`
	Sealed     []byte          `json:"sealed,omitempty"`
	Deployed   string          `json:"deployedStatus"`
	Ready      string          `json:"readyStatus"`
	Error      string          `json:"error,omitempty"`
}

func (r *resource) gvk() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(r.APIVersion, r.Kind)
}

// identity names the object on its cluster independently of the version.
func (r *resource) identity() string {
	return r.gvk().Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// what describes the resource for logs and error messages.
func (r *resource) what() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// connState is a cluster's connectivity as last seen by the context's worker.
type connState struct {
	Connectivity string    `json:"connectivity"`
	Error        string    `json:"error,omitempty"`
	Updated      time.Time `json:"updated"`
}

// Keys, relative to Prefix. Metas have their own prefix so that resuming
// lists them without reading any manifest.
func metaKey(id string) string            { return "meta/" + id }
func recordsPrefix(id string) string      { return "res/" + id + "/" }
func recordKey(id, ck, app string) string { return recordsPrefix(id) + ck + "/" + app }
func connPrefix(id string) string         { return "conn/" + id + "/" }
func connKey(id, ck string) string        { return connPrefix(id) + ck }
func clusterKey(provider, cluster string) string {
	return provider + clusterKeySeparator + cluster
}

// sealAAD binds a sealed manifest to its record and resource.
func sealAAD(recKey string, r *resource) string {
	return "deployer/" + recKey + "#" + r.identity() + "#manifest"
}

func (s *Service) getMeta(ctx context.Context, id string) (*meta, error) {
	kv, err := s.deps.KV.Get(ctx, metaKey(id))
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", id, err)
	}
	var m meta
	if err := json.Unmarshal(kv.Value, &m); err != nil {
		return nil, fmt.Errorf("context %s: corrupt meta: %w", id, err)
	}
	return &m, nil
}

// updateMeta applies fn to the context's meta with compare-and-swap. fn
// returns false to leave the record unchanged.
func (s *Service) updateMeta(ctx context.Context, id string, fn func(m *meta) (bool, error)) (*meta, error) {
	var out *meta
	err := s.deps.KV.Update(ctx, metaKey(id), func(old []byte) ([]byte, error) {
		var m meta
		if err := json.Unmarshal(old, &m); err != nil {
			return nil, fmt.Errorf("context %s: corrupt meta: %w", id, err)
		}
		out = &m
		change, err := fn(&m)
		if err != nil {
			return nil, err
		}
		if !change {
			return old, nil
		}
		m.Updated = time.Now().UTC()
		return json.Marshal(&m)
	})
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", id, err)
	}
	return out, nil
}

// loadRecords reads every record of a context, keyed by record key.
func (s *Service) loadRecords(ctx context.Context, id string) (map[string]*record, error) {
	kvs, err := s.deps.KV.List(ctx, recordsPrefix(id))
	if err != nil {
		return nil, fmt.Errorf("context %s: records: %w", id, err)
	}
	out := make(map[string]*record, len(kvs))
	for _, kv := range kvs {
		var r record
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("context %s: corrupt record %s: %w", id, kv.Key, err)
		}
		out[kv.Key] = &r
	}
	return out, nil
}

// saveRecord writes a record the caller owns (one writer per record: the
// context's worker, per cluster). The sealed manifests are the stored
// ones, not the caller's: workers never change them, while the
// re-encryption job may have rewrapped them since the caller read the
// record (r takes them over too).
func (s *Service) saveRecord(ctx context.Context, id string, r *record) error {
	return s.deps.KV.Update(ctx, recordKey(id, r.clusterKey(), r.App), func(old []byte) ([]byte, error) {
		keepSealed(r, old)
		return json.Marshal(r)
	})
}

// keepSealed copies into r the sealed manifests of the stored record old,
// by resource identity.
func keepSealed(r *record, old []byte) {
	var stored record
	if json.Unmarshal(old, &stored) != nil {
		return
	}
	sealed := make(map[string][]byte, len(stored.Resources))
	for i := range stored.Resources {
		if res := &stored.Resources[i]; res.Sealed != nil {
			sealed[res.identity()] = res.Sealed
		}
	}
	for i := range r.Resources {
		if res := &r.Resources[i]; res.Sealed != nil {
			if b, ok := sealed[res.identity()]; ok {
				res.Sealed = b
			}
		}
	}
}

func (s *Service) loadConns(ctx context.Context, id string) (map[string]connState, error) {
	kvs, err := s.deps.KV.List(ctx, connPrefix(id))
	if err != nil {
		return nil, fmt.Errorf("context %s: connectivity: %w", id, err)
	}
	out := make(map[string]connState, len(kvs))
	for _, kv := range kvs {
		var c connState
		if json.Unmarshal(kv.Value, &c) == nil {
			out[strings.TrimPrefix(kv.Key, connPrefix(id))] = c
		}
	}
	return out, nil
}
