// Package edgecluster runs real Kubernetes API servers on loopback for
// Edgeway's tests and for `make run`: a fleet of N kube-apiserver processes,
// built from the k8s.io/kubernetes Go module (tests/kube-apiserver, by
// scripts/build-kube-apiserver.sh), sharing one embedded etcd under different
// --etcd-prefixes.
//
// There is no controller manager, scheduler or kubelet: objects are stored,
// validated, defaulted, admitted and served (server-side apply, watches,
// RBAC, CRDs), but nothing reconciles them. Deployments get no Pods, and a
// deleted Namespace stays Terminating because nothing empties it.
//
// Each cluster gets its own CA, serving certificate for 127.0.0.1 and
// localhost, service-account signing key and admin client certificate (group
// system:masters), all under <Dir>/<name>/pki, and an admin kubeconfig at
// <Dir>/<name>/kubeconfig. A cluster can be stopped and started again on the
// same port with the same certificates and data, to play an edge cluster that
// goes away and comes back.
//
// Start and Fleet.Close are for programs; StartT is for tests: it stops the
// fleet in t.Cleanup and, when the test failed, logs the tail of each
// apiserver.log. Set EDGEWAY_SKIP_KUBE=1 to skip such tests, and
// EDGEWAY_KUBE_APISERVER to use a prebuilt kube-apiserver. The API server
// processes run in their own process groups and, on Linux, die with the
// process that started them.
package edgecluster
