// Package deployer is Edgeway's deployer service: it owns the runtime state
// of deployments (AppContexts) in etcd and pushes rendered resources to edge
// clusters with client-go server-side apply.
//
// Install validates a rendered AppContext and writes it to etcd: one meta
// record per context (meta/<id>: deployment, revision, previous context,
// status, app order and dependencies) and one record per app × cluster
// (res/<id>/<provider>+<cluster>/<app>) holding each resource's manifest,
// deployed status, ready status and last error. Secret manifests are sealed
// by the secrets service, bound to their record, and unsealed only just
// before they are applied. A Secret annotated edgeway.dev/project-secret
// (added by the orchestrator for a DIG override "$projectSecret:NAME")
// carries no values: just before applying it, the deployer fetches that
// project secret's sealed values (ProjectSecrets.GetProjectSecret), unseals
// them and applies them as the Secret's data; etcd keeps the reference
// only. A re-encryption job moves the sealed manifests to the secrets
// service's primary key after a rotation. A worker per context then, with at most
// Config.ClusterConcurrency clusters at once:
//
//   - fetches each cluster's kubeconfig from the cluster registry and
//     unseals it (kubeconfigs that would run plug-ins or read local files
//     are refused), and keeps a dynamic client and a discovery-backed
//     RESTMapper per cluster;
//   - applies the setup resources, then the CRDs and Namespaces of every
//     app, then each app once the apps it depends on reached their op_status
//     on that cluster, labelling every object edgeway.dev/deployment;
//   - retries an unreachable cluster with exponential backoff (its
//     connectivity Retrying), without holding up the other clusters;
//   - for an update, prunes the objects the previous context had and this
//     one does not, then reports Updated;
//   - follows readiness from the live objects (isReady).
//
// Uninstall deletes the context's objects in reverse order; Stop cancels
// the worker. On start the service resumes the contexts a previous process
// left in progress; server-side apply makes redoing work harmless.
package deployer
