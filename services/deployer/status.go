package deployer

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	"edgeway.dev/common/grpcx"
)

// liveResource is what a Status with detail read from a cluster.
type liveResource struct {
	ready  string
	detail string
}

// Status implements deployerv1.DeployerServer from the context's records
// in etcd. With detail, each resource's live status is read from its
// cluster (bounded by StatusTimeout per cluster); a cluster that does not
// answer leaves detail empty and the recorded ready status.
//
// The setup resources, when the context has any, are reported first as an
// app with an empty name.
func (s *Service) Status(ctx context.Context, req *deployerv1.StatusRequest) (*deployerv1.ContextStatus, error) {
	id := req.GetContextId()
	m, err := s.getMeta(ctx, id)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	recs, err := s.loadRecords(ctx, id)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	conns, err := s.loadConns(ctx, id)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	var live map[string][]*liveResource
	if req.GetDetail() {
		live = s.readLive(ctx, m, recs)
	}

	byApp := map[string][]string{} // app → record keys, sorted by cluster
	for key, rec := range recs {
		byApp[rec.App] = append(byApp[rec.App], key)
	}
	apps := []string{setupApp}
	for _, a := range m.Apps {
		apps = append(apps, a.Name)
	}
	out := &deployerv1.ContextStatus{ContextId: id, DeployedStatus: m.Status, Revision: m.Revision, ReadyStatus: Ready}
	for _, app := range apps {
		keys := byApp[app]
		if app == setupApp && len(keys) == 0 {
			continue
		}
		slices.Sort(keys)
		as := &deployerv1.AppStatus{Name: app}
		if app == setupApp {
			as.Name = ""
		}
		for _, key := range keys {
			rec := recs[key]
			cs := &deployerv1.ClusterStatus{ClusterProvider: rec.ClusterProvider, Cluster: rec.Cluster, Connectivity: ConnUnknown}
			if c, ok := conns[rec.clusterKey()]; ok {
				cs.Connectivity, cs.Error = c.Connectivity, c.Error
			}
			for i := range rec.Resources {
				res := &rec.Resources[i]
				gvk := res.gvk()
				rs := &deployerv1.ResourceStatus{
					Group: gvk.Group, Version: gvk.Version, Kind: res.Kind, Name: res.Name, Namespace: res.Namespace,
					DeployedStatus: res.Deployed, ReadyStatus: res.Ready, Error: res.Error,
				}
				if l := live[key]; l != nil && l[i] != nil {
					rs.ReadyStatus, rs.Detail = l[i].ready, l[i].detail
				}
				if rs.ReadyStatus != Ready {
					out.ReadyStatus = NotReady
				}
				cs.Resources = append(cs.Resources, rs)
			}
			as.Clusters = append(as.Clusters, cs)
		}
		out.Apps = append(out.Apps, as)
	}
	return out, nil
}

// readLive reads every resource's live object, cluster by cluster in
// parallel (at most ClusterConcurrency at once), each cluster within
// StatusTimeout. The answer is indexed like the records' resources; nil
// where nothing could be read.
func (s *Service) readLive(ctx context.Context, m *meta, recs map[string]*record) map[string][]*liveResource {
	byCluster := map[string][]string{}
	for key, rec := range recs {
		byCluster[rec.clusterKey()] = append(byCluster[rec.clusterKey()], key)
	}
	out := make(map[string][]*liveResource, len(recs))
	for key, rec := range recs {
		out[key] = make([]*liveResource, len(rec.Resources))
	}
	slots := make(chan struct{}, s.cfg.ClusterConcurrency)
	var wg sync.WaitGroup
	for ck, keys := range byCluster {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				return
			}
			cctx, cancel := context.WithTimeout(ctx, s.cfg.StatusTimeout)
			defer cancel()
			first := recs[keys[0]]
			conn, err := s.connect(cctx, first.ClusterProvider, first.Cluster)
			if err != nil {
				s.log.Debug("status: cluster not reachable", "context_id", m.ContextID, "cluster", ck, "error", err)
				return
			}
			for _, key := range keys {
				for i := range recs[key].Resources {
					res := &recs[key].Resources[i]
					obj, err := conn.get(cctx, res)
					switch {
					case apierrors.IsNotFound(err):
						out[key][i] = &liveResource{ready: NotPresent}
					case err != nil:
						if cctx.Err() != nil {
							return
						}
					default:
						l := &liveResource{ready: readyStatus(obj)}
						if st, ok := obj.Object["status"]; ok && st != nil {
							if b, err := json.Marshal(st); err == nil {
								l.detail = string(b)
							}
						}
						out[key][i] = l
					}
				}
			}
		}()
	}
	wg.Wait()
	return out
}
