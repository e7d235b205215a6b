// Package ops carries out the documents of an emcoctl-style resource file
// against the Edgeway API: apply (POST, lifecycle verbs as POSTs to the
// verb), update (PUT), get, delete (in reverse order, terminating an
// instantiated group and waiting for it before its children are deleted),
// and rollout, the CI path that applies or updates, approves, instantiates
// and waits until the deployment is ready, failed or out of time.
//
// Every document is tried unless StopOnError is set; the Summary lists the
// failures with the server's problem detail.
package ops
